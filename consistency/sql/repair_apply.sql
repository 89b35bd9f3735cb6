-- Write a repair plan (docs/rules.md §4): one UPDATE per table, in this order (users, then
-- enrollments, then profiles), for the therapists of repair_plan, the temporary table
-- that holds consistency/sql/repair_plan.sql for a chunk, restricted by the plan
-- filter (everyone in it, the therapists planned again, or one therapist when a
-- failed chunk falls back to one at a time). The three statements are separated by
-- a semicolon and a blank line; consistency.repair runs them one after the other.
--
-- A column is written only where the plan fixes its field, and a row only where a
-- value differs from the row as it is now (IS DISTINCT FROM in the WHERE), so a
-- second run changes nothing and only changed rows get updated_at = now().
--
-- No lost update (consistency.repair explains the whole argument): each UPDATE writes
-- a row only while it is still the version the plan read (t.xmin = p.<table>_xmin).
-- At READ COMMITTED an UPDATE that meets a row another transaction changed waits for
-- it and re-checks its WHERE on the newest version, so a row changed since the plan
-- is skipped, never overwritten; the row written stays locked until the commit. The
-- therapist's other rows the values come from were locked and compared before these
-- statements run. A therapist whose UPDATE skipped a row it meant to write goes into
-- repair_skipped; the later statements leave it alone (the first row of a therapist
-- to be written is the only one not locked beforehand, so nothing of it is written
-- yet) and the repair plans it again.
-- {record_<table>} (consistency.repair, _RECORD_SQL) ends each statement: it records in
-- repair_written which rows it wrote, whence the counts per column with the plan's
-- chg_* flags, and in repair_skipped the therapists it skipped.
with changed as (
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
      and u.xmin = p.u_xmin
      and not exists (select 1 from repair_skipped s where s.therapist_id = p.therapist_id)
      and (
          (p.fix_avatar and u.avatar_url is distinct from p.new_avatar)
          or (p.fix_verification and p.new_u_is_verified is not null
              and u.is_verified is distinct from p.new_u_is_verified)
          or (p.fix_active and u.is_active is distinct from p.e_is_active)
          or (p.fix_name and u.full_name is distinct from p.e_full_name)
      )
    returning p.therapist_id
)
{record_users};

with changed as (
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
      and e.xmin = p.e_xmin
      and not exists (select 1 from repair_skipped s where s.therapist_id = p.therapist_id)
      and (
          (p.fix_link and e.user_id is null)
          or (p.fix_avatar and e.profile_image_url is distinct from p.new_avatar)
          or (p.fix_bio and e.bio is distinct from p.new_bio)
          or (p.fix_experience and e.experience_years is distinct from p.new_experience_years)
          or (p.fix_specializations and coalesce(cardinality(e.specializations), 0) = 0
              and e.specializations is distinct from p.new_specializations)
      )
    returning p.therapist_id
)
{record_enrollments};

with changed as (
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
      and t.xmin = p.p_xmin
      and not exists (select 1 from repair_skipped s where s.therapist_id = p.therapist_id)
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
{record_profiles}
