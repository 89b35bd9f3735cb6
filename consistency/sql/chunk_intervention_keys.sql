-- The open interventions of each therapist, found once for a repair-all job (one pass
-- over the open rows of manual_intervention_log) instead of once per chunk: logged by
-- the therapist's normalised email or by its user id, as resolve_gone.sql matches them.
-- Each chunk then resolves among its own rows by key, so its cost does not grow with
-- the log. Rows logged after the job started are the next job's.
with therapist as materialized (
    select u.id, lower(btrim(u.email)) as norm_email
    from users u
    where u.user_type = 'therapist'
),
open_log as materialized (
    select l.id, l.entity_id
    from manual_intervention_log l
    where l.resolved is not true
)
select t.id as therapist_id, 'intervention_ids' as kind, l.id as row_id
from open_log l
join therapist t on t.norm_email = lower(btrim(l.entity_id))
union all
select t.id, 'intervention_ids', l.id
from open_log l
join therapist t on t.id::text = l.entity_id
