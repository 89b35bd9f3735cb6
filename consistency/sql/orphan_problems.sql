-- The orphan enrollments of docs/rules.md §3, one row per problem to log after a repair of
-- everyone (interventions.log logs each once): the orphan's normalised email.
-- repair_orphans holds the rows of consistency/sql/orphan_enrollments.sql.
select
    'orphan-enrollment' as operation,
    o.norm_email as entity_id,
    'An approved enrollment has no user_id and no user has its email: the therapist never signed in, or signed in with another address.' as error,
    jsonb_build_object('enrollment_id', o.id, 'email', o.email, 'job', %(job_id)s::bigint) as payload
from repair_orphans o
