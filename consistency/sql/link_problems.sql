-- The link problems of docs/rules.md §3 that a repair does not fix itself, one row per problem to
-- log (interventions.log logs each once), for the therapists of repair_after:
-- consistency/sql/therapist_state.sql's columns as they stand after the repair's own
-- writes (consistency.engine.repair). entity_id is the therapist's normalised email.
select distinct on (v.operation, a.norm_email)
    v.operation,
    a.norm_email as entity_id,
    v.error,
    jsonb_build_object(
        'user_id', a.therapist_id,
        'email', a.u_email,
        'enrollment_id', a.e_id,
        'profile_id', a.p_id,
        'enrollments', a.enrollment_count,
        'job', %(job_id)s::bigint
    ) as payload
from repair_after a
cross join lateral (values
    ('unlinked-enrollment', a.unlinked_enrollment,
     case when a.duplicate_user
          then 'The canonical enrollment has no user_id and several users share its email: link it to the right one.'
          else 'The canonical enrollment has no user_id and another enrollment is already linked to this user: decide which one is the therapist''s.'
     end),
    ('missing-enrollment', a.missing_enrollment,
     'The therapist has no enrollment, so there is nothing to repair the profile from.'),
    ('missing-profile', a.missing_profile,
     'The therapist has no profile, so booking fails: create it from the enrollment.'),
    ('duplicate-enrollment', a.duplicate_enrollment,
     'The therapist has ' || a.enrollment_count || ' enrollments; only the canonical one is repaired.'),
    ('duplicate-user', a.duplicate_user,
     'Several users share this normalised email; enrollments matched by email may belong to either.')
) as v(operation, present, error)
where v.present
order by v.operation, a.norm_email, a.therapist_id
