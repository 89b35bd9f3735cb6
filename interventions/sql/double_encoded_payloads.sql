-- Interventions whose payload may be one that opsdash wrote double-encoded: a jsonb
-- string (not an object) under an operation whose payload opsdash built in SQL
-- (consistency/sql/link_problems.sql, orphan_problems.sql), logged under a normalised
-- email as opsdash logs everything. interventions.payloads decodes the text and
-- keeps only those that hold exactly the object opsdash writes.
select id, operation, entity_id, payload #>> '{}' as text
from manual_intervention_log
where jsonb_typeof(payload) = 'string'
  and operation = any(%(operations)s)
  and entity_id = lower(btrim(entity_id))
order by id
