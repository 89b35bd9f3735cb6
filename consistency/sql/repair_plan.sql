-- What a repair writes (docs/rules.md §4): one row per therapist with the canonical value of
-- each field, whether the field is to be fixed (its check of docs/rules.md §3 fails and the
-- rule yields a value) and, per written column, whether that column changes.
--
-- The state CTE is consistency/sql/therapist_state.sql restricted by one of the fixed
-- filters of consistency.engine.checks, so the checks are never restated here. The
-- same plan feeds the UPDATEs of a repair, the counts of a dry run and the
-- before/after preview of a resync.
with state as (
{therapist_state}
),
canonical as (
    select
        s.*,
        -- An unlinked canonical enrollment whose normalised email several users share
        -- (duplicate-user) may belong to either of them: a human decides (docs/rules.md §3), so
        -- nothing is written for such a therapist. Otherwise twins repaired in
        -- different chunks would copy each other's values through the shared row.
        (s.duplicate_user and s.e_id is not null and s.e_user_id is null) as ambiguous,
        -- avatar: the enrollment's image, else the user's, else the profile's. The
        -- placeholder, NULL and a blank string are "no image", so an empty value
        -- never overwrites a real one.
        coalesce(
            case when nullif(btrim(s.e_profile_image_url), '') <> '/placeholder.svg' then s.e_profile_image_url end,
            case when nullif(btrim(s.u_avatar_url), '') <> '/placeholder.svg' then s.u_avatar_url end,
            case when nullif(btrim(s.p_profile_image_url), '') <> '/placeholder.svg' then s.p_profile_image_url end
        ) as new_avatar,
        -- bio: the enrollment's when non-empty, else the profile's.
        case when btrim(s.e_bio) <> '' then s.e_bio else s.p_bio end as new_bio,
        -- experience: the enrollment's when above 0, else the profile's when above 0,
        -- else the enrollment's.
        case
            when s.e_experience_years > 0 then s.e_experience_years
            when s.p_experience_years > 0 then s.p_experience_years
            else s.e_experience_years
        end as new_experience_years,
        -- verification: the enrollment's status; the profile is verified when it is
        -- approved; the user is verified when approved, not when rejected, and left
        -- alone while pending (every magic-link sign-in verifies the user).
        s.e_status = 'approved' as new_p_is_verified,
        case s.e_status when 'approved' then true when 'rejected' then false end as new_u_is_verified,
        -- specializations: the enrollment's list (docs/rules.md §3: the array, else the
        -- normalised legacy text), else the profile's. The legacy text is never written.
        case when cardinality(s.e_list) > 0 then s.e_list else s.p_specializations end as new_specializations
    from state s
),
fix as (
    -- Only fields whose check fails are written (docs/rules.md §4); a check that is NULL (no
    -- enrollment or no profile to compare) writes nothing.
    select
        c.*,
        c.avatar_ok is false and not c.ambiguous and c.new_avatar is not null as fix_avatar,
        c.bio_ok is false and not c.ambiguous as fix_bio,
        c.experience_ok is false and not c.ambiguous as fix_experience,
        c.verification_ok is false and not c.ambiguous as fix_verification,
        c.active_ok is false and not c.ambiguous as fix_active,
        c.name_ok is false and not c.ambiguous as fix_name,
        c.specializations_ok is false and not c.ambiguous as fix_specializations,
        -- link: the canonical enrollment gets the therapist's id when it has none,
        -- unless another enrollment already holds that id (user_id is unique): then
        -- it stays an unlinked-enrollment problem for a human.
        c.unlinked_enrollment and not c.ambiguous
            and not exists (select 1 from therapist_enrollments x where x.user_id = c.therapist_id) as fix_link
    from canonical c
)
select
    f.*,
    -- users
    f.fix_avatar and f.u_avatar_url is distinct from f.new_avatar as chg_u_avatar_url,
    f.fix_verification and f.new_u_is_verified is not null
        and f.u_is_verified is distinct from f.new_u_is_verified as chg_u_is_verified,
    f.fix_active and f.u_is_active is distinct from f.e_is_active as chg_u_is_active,
    f.fix_name and f.u_full_name is distinct from f.e_full_name as chg_u_full_name,
    -- therapist_enrollments: the canonical one only; duplicates are never written.
    f.fix_avatar and f.e_profile_image_url is distinct from f.new_avatar as chg_e_profile_image_url,
    f.fix_bio and f.e_bio is distinct from f.new_bio as chg_e_bio,
    f.fix_experience and f.e_experience_years is distinct from f.new_experience_years as chg_e_experience_years,
    -- The enrollment's array is written only while it is empty.
    f.fix_specializations and coalesce(cardinality(f.e_specializations), 0) = 0
        and f.e_specializations is distinct from f.new_specializations as chg_e_specializations,
    f.fix_link as chg_e_user_id,
    -- therapist_profiles
    f.fix_avatar and f.p_profile_image_url is distinct from f.new_avatar as chg_p_profile_image_url,
    f.fix_bio and f.p_bio is distinct from f.new_bio as chg_p_bio,
    f.fix_experience and f.p_experience_years is distinct from f.new_experience_years as chg_p_experience_years,
    f.fix_specializations and f.p_specializations is distinct from f.new_specializations as chg_p_specializations,
    f.fix_verification and f.p_verification_status is distinct from f.e_status as chg_p_verification_status,
    f.fix_verification and f.p_is_verified is distinct from f.new_p_is_verified as chg_p_is_verified
from fix f
