-- The safety-net triggers (docs/rules.md §5): the platform team's PHASE-1-SAFETY-NET.sql
-- propagation, with the linking of docs/rules.md §2 and without its gaps.
--
-- What propagates, on UPDATE only (as the original):
--   avatar      users.avatar_url <-> enrollment / profile profile_image_url, all three ways
--   bio, experience_years        enrollment <-> profile, both ways
--   status      enrollment -> profile verification_status and is_verified,
--               user is_verified (docs/rules.md §4: true when approved, false when rejected)
--
-- How it differs from the original:
--   * A therapist is a users row with user_type 'therapist'; an enrollment belongs to it
--     by user_id, or, when user_id is NULL, by normalised email lower(btrim(email)).
--     Only the canonical enrollment is read or written; duplicates are left alone (§2).
--   * '/placeholder.svg' means "no image" (§2): it is compared as NULL, users and
--     profiles get NULL, the enrollment keeps its placeholder.
--   * Every UPDATE says "is it still different?" in its WHERE (IS DISTINCT FROM), so an
--     equal value is never rewritten and updated_at never churns (§4).
--   * pg_trigger_depth() > 1 stops our own propagated writes from propagating again: the
--     first call writes every table itself, so nothing is lost and nothing loops.
--   * The value propagated is re-read from the row, not taken from NEW: when one
--     statement changes two of the tables, the later trigger sees that the earlier one
--     already overwrote its row and agrees with it instead of fighting it.
--   * Status no longer touches users.is_active: docs/rules.md §4 takes it from the enrollment's
--     is_active, never from the status.
--   * On any error: RAISE WARNING, one intervention in manual_intervention_log (§4:
--     once while an unresolved one is open), and the original UPDATE still commits.
--     The propagation runs in its own BEGIN/EXCEPTION block (a subtransaction), so a
--     failure undoes all of that propagation's writes and none of the caller's; one
--     helper (opsdash_report_sync_failure) warns and logs for every trigger function,
--     the logging in a nested block of its own, so a failure to log is one more
--     warning and the update still commits.
--
-- Every object is named opsdash_*; safety_net_rollback.sql drops exactly these.
-- Functions pin the search_path of the installing session (SET ... FROM CURRENT), so
-- a caller running with another search_path (an auth hook, say) still finds the tables.
-- The whole file is idempotent and runs inside one transaction (consistency.safety_net.service).


-- Indexes --------------------------------------------------------------------------
-- Each propagation looks a therapist's rows up by normalised email: the unlinked
-- enrollments of a user, the therapist users of an unlinked enrollment. Without these
-- indexes every such UPDATE would scan the whole table (bench/triggers.py measures
-- both). Partial, so that they hold only the rows the lookups can match.
create index if not exists opsdash_users_therapist_email_idx
    on users (lower(btrim(email))) where user_type = 'therapist';

create index if not exists opsdash_enrollments_unlinked_email_idx
    on therapist_enrollments (lower(btrim(email))) where user_id is null;


-- Linking (docs/rules.md §2) -----------------------------------------------------------------

-- The canonical enrollment of a therapist: among the enrollments linked by user_id and
-- the unlinked ones with its normalised email, the approved one updated last, else the
-- one updated last, ties to the greatest id. Same rule as the `ranked` step of
-- therapist_state.sql; tests/consistency/test_safety_net.py holds the two together.
create or replace function opsdash_canonical_enrollment(p_user_id uuid, p_norm_email text)
returns uuid
language plpgsql
stable
set search_path from current
as $body$
begin
    return (
        select c.id
        from (
            select e.id, e.status, e.updated_at
            from therapist_enrollments e
            where e.user_id = p_user_id
            union all
            select e.id, e.status, e.updated_at
            from therapist_enrollments e
            where e.user_id is null and lower(btrim(e.email)) = p_norm_email
        ) c
        order by (c.status = 'approved') desc, c.updated_at desc, c.id desc
        limit 1
    );
end
$body$;

-- The therapists whose canonical enrollment this is: the user of user_id, or, for an
-- unlinked enrollment, every therapist with the same normalised email (two such users
-- are a duplicate-user problem; each gets the enrollment, as the repair does).
create or replace function opsdash_enrollment_therapists(p_enrollment_id uuid, p_user_id uuid, p_email text)
returns table (user_id uuid, norm_email text)
language plpgsql
stable
set search_path from current
as $body$
begin
    return query
    select t.id, t.norm_email
    from (
        select u.id, lower(btrim(u.email)) as norm_email
        from users u
        where p_user_id is not null and u.id = p_user_id and u.user_type = 'therapist'
        union all
        select u.id, lower(btrim(u.email))
        from users u
        where p_user_id is null and u.user_type = 'therapist'
          and lower(btrim(u.email)) = lower(btrim(p_email))
    ) t
    where opsdash_canonical_enrollment(t.id, t.norm_email) = p_enrollment_id;
end
$body$;


-- Failure log (docs/rules.md §1, §4) --------------------------------------------------------

-- Log a failed propagation once: no new row while an unresolved one with the same
-- operation and entity_id is open. opsdash_report_sync_failure calls it in a
-- BEGIN/EXCEPTION block of its own.
create or replace function opsdash_log_sync_failure(p_operation text, p_entity_id text, p_error text, p_payload jsonb)
returns void
language plpgsql
volatile
set search_path from current
as $body$
begin
    -- Two transactions failing for the same therapist at once would both see no open
    -- row; the lock (held to the end of the transaction) makes the second wait and see.
    perform pg_advisory_xact_lock(hashtextextended('opsdash intervention ' || p_operation || ' ' || coalesce(p_entity_id, ''), 0));
    insert into manual_intervention_log (operation, entity_id, error, payload)
    select p_operation, p_entity_id, p_error, p_payload
    where not exists (
        select 1
        from manual_intervention_log l
        where l.operation = p_operation
          and l.entity_id is not distinct from p_entity_id
          and l.resolved is not true
    );
end
$body$;

-- Report a failed propagation: a WARNING naming what failed, then the failure logged
-- once (opsdash_log_sync_failure). The trigger functions call it from the EXCEPTION
-- clause of their propagation block, with the values they had read. Logging runs in
-- a block of its own, so that a failure to log (a missing table, a missing function, a
-- constraint) is one more warning and never an error for the UPDATE that fired the
-- trigger; the trigger functions catch a failure of this function itself the same way.
create or replace function opsdash_report_sync_failure(
    p_operation text, p_what text, p_entity_id text, p_error text, p_payload jsonb
)
returns void
language plpgsql
volatile
set search_path from current
as $body$
begin
    raise warning 'opsdash safety net: % failed for %: %', p_what, p_entity_id, p_error;
    begin
        perform opsdash_log_sync_failure(p_operation, p_entity_id, p_error, p_payload);
    exception when others then
        raise warning 'opsdash safety net: could not log the % failure of %: %', p_operation, p_entity_id, sqlerrm;
    end;
end
$body$;


-- Avatar: all three tables ------------------------------------------------------------

create or replace function opsdash_sync_avatar()
returns trigger
language plpgsql
volatile
set search_path from current
as $body$
declare
    -- The image now in the row that changed; NULL means "no image" (placeholder too).
    v_image text;
    v_user_id uuid;
    v_entity text;
    v_enrollment_id uuid;
begin
    -- Our own writes below fire this trigger one level down: the top call already
    -- writes every table, so the nested one stops (no loops).
    if pg_trigger_depth() > 1 then
        return null;
    end if;

    begin
        if tg_table_name = 'users' then
            v_user_id := new.id;
            v_entity := lower(btrim(new.email));
            select nullif(u.avatar_url, '/placeholder.svg') into v_image from users u where u.id = new.id;
            v_enrollment_id := opsdash_canonical_enrollment(v_user_id, v_entity);
            update therapist_enrollments e
            set profile_image_url = coalesce(v_image, '/placeholder.svg'), updated_at = now()
            where e.id = v_enrollment_id
              and nullif(e.profile_image_url, '/placeholder.svg') is distinct from v_image;
            update therapist_profiles p
            set profile_image_url = v_image, updated_at = now()
            where p.user_id = v_user_id
              and nullif(p.profile_image_url, '/placeholder.svg') is distinct from v_image;

        elsif tg_table_name = 'therapist_enrollments' then
            v_entity := lower(btrim(new.email));
            select nullif(e.profile_image_url, '/placeholder.svg') into v_image
            from therapist_enrollments e where e.id = new.id;
            for v_user_id, v_entity in
                select t.user_id, t.norm_email from opsdash_enrollment_therapists(new.id, new.user_id, new.email) t
            loop
                update users u
                set avatar_url = v_image, updated_at = now()
                where u.id = v_user_id
                  and nullif(u.avatar_url, '/placeholder.svg') is distinct from v_image;
                update therapist_profiles p
                set profile_image_url = v_image, updated_at = now()
                where p.user_id = v_user_id
                  and nullif(p.profile_image_url, '/placeholder.svg') is distinct from v_image;
            end loop;

        elsif tg_table_name = 'therapist_profiles' then
            v_entity := new.user_id::text;
            select u.id, lower(btrim(u.email)) into v_user_id, v_entity
            from users u where u.id = new.user_id and u.user_type = 'therapist';
            if v_user_id is null then
                return null;
            end if;
            select nullif(p.profile_image_url, '/placeholder.svg') into v_image
            from therapist_profiles p where p.id = new.id;
            update users u
            set avatar_url = v_image, updated_at = now()
            where u.id = v_user_id
              and nullif(u.avatar_url, '/placeholder.svg') is distinct from v_image;
            v_enrollment_id := opsdash_canonical_enrollment(v_user_id, v_entity);
            update therapist_enrollments e
            set profile_image_url = coalesce(v_image, '/placeholder.svg'), updated_at = now()
            where e.id = v_enrollment_id
              and nullif(e.profile_image_url, '/placeholder.svg') is distinct from v_image;
        end if;
    exception when others then
        perform opsdash_report_sync_failure(
            'avatar-sync', 'avatar sync from ' || tg_table_name, v_entity, sqlerrm,
            jsonb_build_object('trigger', tg_name, 'table', tg_table_name, 'row_id', new.id,
                               'user_id', v_user_id, 'avatar_url', v_image, 'sqlstate', sqlstate)
        );
    end;
    return null;
exception when others then
    raise warning 'opsdash safety net: could not report the avatar-sync failure of %: %', v_entity, sqlerrm;
    return null;
end
$body$;


-- Bio and experience: enrollment <-> profile ---------------------------------------------
-- Only the columns this UPDATE changed propagate, so a pre-existing difference in the
-- other one is left to the repair. experience_years is written only where docs/rules.md §3 sees a
-- difference: an unknown enrollment value (NULL or 0) never overwrites a profile's
-- positive one.

create or replace function opsdash_sync_profile_data()
returns trigger
language plpgsql
volatile
set search_path from current
as $body$
declare
    v_bio_changed boolean := old.bio is distinct from new.bio;
    v_experience_changed boolean := old.experience_years is distinct from new.experience_years;
    v_bio text;
    v_experience integer;
    v_user_id uuid;
    v_entity text;
    v_enrollment_id uuid;
begin
    if pg_trigger_depth() > 1 then
        return null;
    end if;

    begin
        if tg_table_name = 'therapist_enrollments' then
            v_entity := lower(btrim(new.email));
            select e.bio, e.experience_years into v_bio, v_experience
            from therapist_enrollments e where e.id = new.id;
            for v_user_id, v_entity in
                select t.user_id, t.norm_email from opsdash_enrollment_therapists(new.id, new.user_id, new.email) t
            loop
                update therapist_profiles p
                set bio = case when v_bio_changed then v_bio else p.bio end,
                    experience_years = case
                        when v_experience_changed
                             and not (v_experience is not distinct from p.experience_years
                                      or (coalesce(v_experience, 0) = 0 and coalesce(p.experience_years, 0) > 0))
                        then v_experience
                        else p.experience_years
                    end,
                    updated_at = now()
                where p.user_id = v_user_id
                  and ((v_bio_changed and p.bio is distinct from v_bio)
                       or (v_experience_changed
                           and not (v_experience is not distinct from p.experience_years
                                    or (coalesce(v_experience, 0) = 0 and coalesce(p.experience_years, 0) > 0))));
            end loop;

        elsif tg_table_name = 'therapist_profiles' then
            v_entity := new.user_id::text;
            select u.id, lower(btrim(u.email)) into v_user_id, v_entity
            from users u where u.id = new.user_id and u.user_type = 'therapist';
            if v_user_id is null then
                return null;
            end if;
            select p.bio, p.experience_years into v_bio, v_experience
            from therapist_profiles p where p.id = new.id;
            v_enrollment_id := opsdash_canonical_enrollment(v_user_id, v_entity);
            update therapist_enrollments e
            set bio = case when v_bio_changed then v_bio else e.bio end,
                experience_years = case
                    when v_experience_changed
                         and not (e.experience_years is not distinct from v_experience
                                  or (coalesce(e.experience_years, 0) = 0 and coalesce(v_experience, 0) > 0))
                    then v_experience
                    else e.experience_years
                end,
                updated_at = now()
            where e.id = v_enrollment_id
              and ((v_bio_changed and e.bio is distinct from v_bio)
                   or (v_experience_changed
                       and not (e.experience_years is not distinct from v_experience
                                or (coalesce(e.experience_years, 0) = 0 and coalesce(v_experience, 0) > 0))));
        end if;
    exception when others then
        perform opsdash_report_sync_failure(
            'profile-sync', 'profile sync from ' || tg_table_name, v_entity, sqlerrm,
            jsonb_build_object('trigger', tg_name, 'table', tg_table_name, 'row_id', new.id,
                               'user_id', v_user_id, 'bio', v_bio, 'experience_years', v_experience,
                               'sqlstate', sqlstate)
        );
    end;
    return null;
exception when others then
    raise warning 'opsdash safety net: could not report the profile-sync failure of %: %', v_entity, sqlerrm;
    return null;
end
$body$;


-- Status: enrollment -> profile and user (docs/rules.md §4 verification) ----------------------------

create or replace function opsdash_sync_verification()
returns trigger
language plpgsql
volatile
set search_path from current
as $body$
declare
    v_status text;
    v_user_id uuid;
    v_entity text;
begin
    if pg_trigger_depth() > 1 then
        return null;
    end if;

    begin
        v_entity := lower(btrim(new.email));
        select e.status into v_status from therapist_enrollments e where e.id = new.id;
        for v_user_id, v_entity in
            select t.user_id, t.norm_email from opsdash_enrollment_therapists(new.id, new.user_id, new.email) t
        loop
            -- A legacy 'verified' profile already agrees with 'approved' (docs/rules.md §3).
            update therapist_profiles p
            set verification_status = v_status,
                is_verified = (v_status = 'approved'),
                updated_at = now()
            where p.user_id = v_user_id
              and (case when p.verification_status = 'verified' then 'approved' else p.verification_status end
                       is distinct from v_status
                   or p.is_verified is distinct from (v_status = 'approved'));
            -- Sign-in sets users.is_verified for pending therapists too: leave it then.
            update users u
            set is_verified = (v_status = 'approved'), updated_at = now()
            where u.id = v_user_id
              and v_status in ('approved', 'rejected')
              and u.is_verified is distinct from (v_status = 'approved');
        end loop;
    exception when others then
        perform opsdash_report_sync_failure(
            'verification-sync', 'verification sync', v_entity, sqlerrm,
            jsonb_build_object('trigger', tg_name, 'table', tg_table_name, 'row_id', new.id,
                               'user_id', v_user_id, 'status', v_status, 'sqlstate', sqlstate)
        );
    end;
    return null;
exception when others then
    raise warning 'opsdash safety net: could not report the verification-sync failure of %: %', v_entity, sqlerrm;
    return null;
end
$body$;


-- Triggers -----------------------------------------------------------------------------
-- AFTER UPDATE OF <columns>: an UPDATE that does not name the column (a sign-in, a
-- phone change) never calls the function; the WHEN clause skips rewrites of an equal
-- value. CREATE OR REPLACE also re-enables a trigger someone disabled.

create or replace trigger opsdash_sync_avatar_from_users
    after update of avatar_url on users
    for each row
    when (new.user_type = 'therapist'
          and nullif(old.avatar_url, '/placeholder.svg') is distinct from nullif(new.avatar_url, '/placeholder.svg'))
    execute function opsdash_sync_avatar();

create or replace trigger opsdash_sync_avatar_from_enrollments
    after update of profile_image_url on therapist_enrollments
    for each row
    when (nullif(old.profile_image_url, '/placeholder.svg') is distinct from nullif(new.profile_image_url, '/placeholder.svg'))
    execute function opsdash_sync_avatar();

create or replace trigger opsdash_sync_avatar_from_profiles
    after update of profile_image_url on therapist_profiles
    for each row
    when (nullif(old.profile_image_url, '/placeholder.svg') is distinct from nullif(new.profile_image_url, '/placeholder.svg'))
    execute function opsdash_sync_avatar();

create or replace trigger opsdash_sync_profile_data_from_enrollments
    after update of bio, experience_years on therapist_enrollments
    for each row
    when (old.bio is distinct from new.bio or old.experience_years is distinct from new.experience_years)
    execute function opsdash_sync_profile_data();

create or replace trigger opsdash_sync_profile_data_from_profiles
    after update of bio, experience_years on therapist_profiles
    for each row
    when (old.bio is distinct from new.bio or old.experience_years is distinct from new.experience_years)
    execute function opsdash_sync_profile_data();

create or replace trigger opsdash_sync_verification_from_enrollments
    after update of status on therapist_enrollments
    for each row
    when (old.status is distinct from new.status)
    execute function opsdash_sync_verification();
