-- The orphan-enrollment problems of SPEC §3 in the intervention log, after a repair of
-- everyone: each orphan enrollment's normalised email logged once while unresolved,
-- and the open orphan-enrollment interventions whose email no longer has an orphan
-- resolved by 'opsdash'. The orphan CTE is consistency/sql/orphan_enrollments.sql. The
-- caller holds the log's advisory lock (interventions.log).
with orphan as (
{orphans}
),
logged as (
    insert into manual_intervention_log (operation, entity_id, error, payload)
    select distinct on (o.norm_email)
        'orphan-enrollment',
        o.norm_email,
        'An approved enrollment has no user_id and no user has its email: the therapist never signed in, or signed in with another address.',
        jsonb_build_object('enrollment_id', o.id, 'email', o.email, 'job', %(job_id)s::bigint)
    from orphan o
    where not exists (
        select 1 from manual_intervention_log l
        where l.operation = 'orphan-enrollment' and l.entity_id = o.norm_email and l.resolved is not true
    )
    order by o.norm_email, o.id
    returning 1
),
resolved as (
    update manual_intervention_log l set
        resolved = true,
        resolved_at = now(),
        resolved_by = 'opsdash',
        resolution_notes = %(note)s
    where l.operation = 'orphan-enrollment'
      and l.resolved is not true
      and not exists (select 1 from orphan o where o.norm_email = lower(btrim(l.entity_id)))
    returning 1
)
select (select count(*) from logged) as logged, (select count(*) from resolved) as resolved
