-- Replace the double-encoded payloads given as a JSON array of {id, payload} by the
-- objects they hold. Only a row whose payload is still a string is written, so the
-- repair can run again, or alongside another, without harm.
update manual_intervention_log l
set payload = f.payload
from jsonb_to_recordset(%(fixes)s::jsonb) as f(id uuid, payload jsonb)
where l.id = f.id
  and jsonb_typeof(l.payload) = 'string'
  and jsonb_typeof(f.payload) = 'object'
