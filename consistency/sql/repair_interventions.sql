-- The intervention log after a repair (SPEC §3, §4), for the therapists of
-- repair_after: consistency/sql/therapist_state.sql evaluated again after this run's
-- own writes, so a problem the run just fixed counts as gone.
--
-- 1. Each link problem that is not repaired automatically is logged once: no row is
--    added while an unresolved one with the same operation and entity_id exists.
-- 2. Open interventions whose problem is gone are resolved by 'opsdash' with a note.
--
-- entity_id is the therapist's normalised email; the platform may also have logged a
-- user id, which step 2 matches too. The caller holds the log's advisory lock
-- (interventions.log) so that "logged once" holds against concurrent writers.
with problem as (
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
),
logged as (
    insert into manual_intervention_log (operation, entity_id, error, payload)
    select p.operation, p.entity_id, p.error, p.payload
    from problem p
    where not exists (
        select 1 from manual_intervention_log l
        where l.operation = p.operation and l.entity_id = p.entity_id and l.resolved is not true
    )
    returning 1
),
gone as (
    -- Problems found absent, per therapist. A check that could not be evaluated
    -- (NULL: no enrollment or no profile) does not count as gone.
    select a.therapist_id, a.norm_email, a.duplicate_user, v.operation
    from repair_after a
    cross join lateral (values
        ('unlinked-enrollment', not a.unlinked_enrollment),
        ('missing-enrollment', not a.missing_enrollment),
        ('missing-profile', not a.missing_profile),
        ('duplicate-enrollment', not a.duplicate_enrollment),
        ('duplicate-user', not a.duplicate_user),
        ('avatar-sync', coalesce(a.avatar_ok, false)),
        ('profile-sync', coalesce(a.bio_ok and a.experience_ok and a.specializations_ok, false)),
        ('verification-sync', coalesce(a.verification_ok, false)),
        -- A therapist whose own repair failed: gone once nothing is left to write.
        ('therapist-sync', a.avatar_ok is not false and a.bio_ok is not false
            and a.experience_ok is not false and a.verification_ok is not false
            and a.active_ok is not false and a.name_ok is not false
            and a.specializations_ok is not false and not a.unlinked_enrollment)
    ) as v(operation, absent)
    where v.absent
),
matched as (
    -- By email, unless the email is shared by several users (a twin may still have
    -- the problem); by user id always. Two equality joins, so both hash.
    select l.id
    from manual_intervention_log l
    join gone g on g.operation = l.operation and g.norm_email = lower(btrim(l.entity_id))
    where l.resolved is not true and not g.duplicate_user
    union
    select l.id
    from manual_intervention_log l
    join gone g on g.operation = l.operation and g.therapist_id::text = l.entity_id
    where l.resolved is not true
),
resolved as (
    update manual_intervention_log l set
        resolved = true,
        resolved_at = now(),
        resolved_by = 'opsdash',
        resolution_notes = %(note)s
    from matched m
    where l.id = m.id
    returning 1
)
select (select count(*) from logged) as logged, (select count(*) from resolved) as resolved
