-- Write a repair plan (docs/rules.md §4): one UPDATE per table for the therapists of
-- repair_plan, the temporary table that holds consistency/sql/repair_plan.sql for a
-- chunk, restricted by the plan filter (everyone in it, or one therapist when a
-- failed chunk falls back to one at a time).
--
-- A column is written only where the plan fixes its field, and a row only where a
-- value differs from the row as it is now (IS DISTINCT FROM in the WHERE), so a
-- second run changes nothing and only changed rows get updated_at = now().
-- Each UPDATE returns the therapist it wrote for, and repair_written records which
-- of its rows were written; the counts per column come from that and the plan's
-- chg_* flags.
with changed_users as (
    update users u set
        avatar_url = case when p.fix_avatar then p.new_avatar else u.avatar_url end,
        is_verified = case when p.fix_verification and p.new_u_is_verified is not null
                           then p.new_u_is_verified else u.is_verified end,
        is_active = case when p.fix_active then p.e_is_active else u.is_active end,
        full_name = case when p.fix_name then p.e_full_name else u.full_name end,
        updated_at = now()
    from repair_plan p
    where u.id = p.therapist_id
      and ({plan_filter})
      and (
          (p.fix_avatar and u.avatar_url is distinct from p.new_avatar)
          or (p.fix_verification and p.new_u_is_verified is not null
              and u.is_verified is distinct from p.new_u_is_verified)
          or (p.fix_active and u.is_active is distinct from p.e_is_active)
          or (p.fix_name and u.full_name is distinct from p.e_full_name)
      )
    returning p.therapist_id
),
changed_enrollments as (
    -- The canonical enrollment only (p.e_id); duplicates are never written.
    update therapist_enrollments e set
        user_id = case when p.fix_link and e.user_id is null then p.therapist_id else e.user_id end,
        profile_image_url = case when p.fix_avatar then p.new_avatar else e.profile_image_url end,
        bio = case when p.fix_bio then p.new_bio else e.bio end,
        experience_years = case when p.fix_experience then p.new_experience_years else e.experience_years end,
        -- The array only while it is empty; the legacy text is never written.
        specializations = case when p.fix_specializations and coalesce(cardinality(e.specializations), 0) = 0
                               then p.new_specializations else e.specializations end,
        updated_at = now()
    from repair_plan p
    where e.id = p.e_id
      and ({plan_filter})
      and (
          (p.fix_link and e.user_id is null)
          or (p.fix_avatar and e.profile_image_url is distinct from p.new_avatar)
          or (p.fix_bio and e.bio is distinct from p.new_bio)
          or (p.fix_experience and e.experience_years is distinct from p.new_experience_years)
          or (p.fix_specializations and coalesce(cardinality(e.specializations), 0) = 0
              and e.specializations is distinct from p.new_specializations)
      )
    returning p.therapist_id
),
changed_profiles as (
    update therapist_profiles t set
        profile_image_url = case when p.fix_avatar then p.new_avatar else t.profile_image_url end,
        bio = case when p.fix_bio then p.new_bio else t.bio end,
        experience_years = case when p.fix_experience then p.new_experience_years else t.experience_years end,
        specializations = case when p.fix_specializations then p.new_specializations else t.specializations end,
        verification_status = case when p.fix_verification then p.e_status else t.verification_status end,
        is_verified = case when p.fix_verification then p.new_p_is_verified else t.is_verified end,
        updated_at = now()
    from repair_plan p
    where t.id = p.p_id
      and ({plan_filter})
      and (
          (p.fix_avatar and t.profile_image_url is distinct from p.new_avatar)
          or (p.fix_bio and t.bio is distinct from p.new_bio)
          or (p.fix_experience and t.experience_years is distinct from p.new_experience_years)
          or (p.fix_specializations and t.specializations is distinct from p.new_specializations)
          or (p.fix_verification and t.verification_status is distinct from p.e_status)
          or (p.fix_verification and t.is_verified is distinct from p.new_p_is_verified)
      )
    returning p.therapist_id
)
insert into repair_written (therapist_id, users, enrollments, profiles)
select p.therapist_id, cu.therapist_id is not null, ce.therapist_id is not null, cp.therapist_id is not null
from repair_plan p
left join changed_users cu on cu.therapist_id = p.therapist_id
left join changed_enrollments ce on ce.therapist_id = p.therapist_id
left join changed_profiles cp on cp.therapist_id = p.therapist_id
where ({plan_filter})
  and (cu.therapist_id is not null or ce.therapist_id is not null or cp.therapist_id is not null)
