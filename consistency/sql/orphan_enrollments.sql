-- docs/rules.md §3 orphan-enrollment: an approved enrollment, canonical among the enrollments
-- of its normalised email, whose user_id is NULL and whose normalised email matches
-- no user. One row per such enrollment: the metrics count them, a repair logs them.
with orphan_email as (
    -- The normalised emails that can have an orphan: an approved unlinked enrollment
    -- has it and no user does. Only their enrollments need ranking, not every one.
    select distinct lower(btrim(e.email)) as norm_email
    from therapist_enrollments e
    where e.status = 'approved' and e.user_id is null
      and not exists (select 1 from users u where lower(btrim(u.email)) = lower(btrim(e.email)))
),
candidate as materialized (
    -- Materialized: PostgreSQL cannot estimate how few enrollments these emails have,
    -- and would otherwise sort every enrollment to rank them.
    select e.id, e.email, e.user_id, e.status, e.updated_at, lower(btrim(e.email)) as norm_email
    from therapist_enrollments e
    where lower(btrim(e.email)) in (select o.norm_email from orphan_email o)
)
select ranked.id, ranked.email, ranked.norm_email
from (
    select c.id, c.email, c.user_id, c.status, c.norm_email,
           row_number() over (
               partition by c.norm_email
               order by (c.status = 'approved') desc, c.updated_at desc, c.id desc
           ) as position
    from candidate c
) ranked
where ranked.position = 1
  and ranked.status = 'approved'
  and ranked.user_id is null
