-- Resolve the open interventions whose problem is gone (docs/rules.md §4), for the therapists of
-- repair_after: consistency/sql/therapist_state.sql's columns as they stand after the
-- repair's own writes, so a problem the run just fixed counts as gone. Resolved by
-- 'opsdash' with a note. entity_id is the therapist's normalised email; the platform
-- may also have logged a user id, which is matched too. In a chunk of a repair-all the
-- open rows are read by key, among those the job found for the chunk's therapists
-- (consistency/sql/chunk_intervention_keys.sql); elsewhere the log filter is "true".
with gone as (
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
    where l.resolved is not true and not g.duplicate_user and ({log_filter})
    union
    select l.id
    from manual_intervention_log l
    join gone g on g.operation = l.operation and g.therapist_id::text = l.entity_id
    where l.resolved is not true and ({log_filter})
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
select count(*) from resolved
