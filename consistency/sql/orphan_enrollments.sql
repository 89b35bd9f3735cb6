-- SPEC §3 orphan-enrollment: an approved enrollment, canonical among the enrollments
-- of its normalised email, whose user_id is NULL and whose normalised email matches
-- no user. One row per such enrollment: the metrics count them, a repair logs them.
select ranked.id, ranked.email, ranked.norm_email
from (
    select e.id, e.email, e.user_id, e.status, lower(btrim(e.email)) as norm_email,
           row_number() over (
               partition by lower(btrim(e.email))
               order by (e.status = 'approved') desc, e.updated_at desc, e.id desc
           ) as position
    from therapist_enrollments e
) ranked
where ranked.position = 1
  and ranked.status = 'approved'
  and ranked.user_id is null
  and not exists (select 1 from users u where lower(btrim(u.email)) = ranked.norm_email)
