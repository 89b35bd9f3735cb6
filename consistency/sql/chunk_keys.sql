-- What the chunks of a repair-all look up by normalised email, found once for the whole
-- job (one pass over users and enrollments) instead of once per chunk: per therapist,
-- - 'unlinked_ids': the enrollments without user_id whose normalised email is the
--   therapist's (docs/rules.md §2, its unlinked enrollments);
-- - 'twin_ids': the users whose email is another spelling of the therapist's, in a
--   group that is a duplicate-user (docs/rules.md §3).
-- Each chunk then reads its therapists' rows by key (therapist_state.sql under
-- consistency.engine.checks.BY_JOB_KEYS), which checks them again as they are then, so its
-- cost does not grow with the tables. Rows added after the job started are the next
-- job's.
with therapist as materialized (
    select u.id, lower(btrim(u.email)) as norm_email
    from users u
    where u.user_type = 'therapist'
),
other_spelling as (
    -- users.email is unique, so a group of equal normalised emails has at most one
    -- member already normalised: every group is found among the others (as in
    -- therapist_state.sql's duplicate_email).
    select o.id, lower(btrim(o.email)) as norm_email,
           count(*) over (partition by lower(btrim(o.email))) as members
    from users o
    where o.email <> lower(btrim(o.email))
)
select t.id as therapist_id, 'unlinked_ids' as kind, e.id as row_id
from therapist_enrollments e
join therapist t on t.norm_email = lower(btrim(e.email))
where e.user_id is null
union all
select t.id, 'twin_ids', s.id
from other_spelling s
join therapist t on t.norm_email = s.norm_email
where s.members > 1 or exists (select 1 from users x where x.email = s.norm_email)
