-- Resolve the open orphan-enrollment interventions whose email no longer has an orphan
-- enrollment (docs/rules.md §3, §4), after a repair of everyone; resolved by 'opsdash' with a
-- note. repair_orphans holds the rows of consistency/sql/orphan_enrollments.sql.
update manual_intervention_log l set
    resolved = true,
    resolved_at = now(),
    resolved_by = 'opsdash',
    resolution_notes = %(note)s
where l.operation = 'orphan-enrollment'
  and l.resolved is not true
  and not exists (select 1 from repair_orphans o where o.norm_email = lower(btrim(l.entity_id)))
