-- The privileges opsdash's everyday use needs in the platform database (README,
-- "Least privilege"): pages, resync, repair-all and its dry run, create profile,
-- and the intervention queue. No DDL, no DELETE, no TRUNCATE, no ownership.
-- The role must exist; a DBA creates it, e.g.
--   create role opsdash_app login password '...';
-- and `manage.py platform_setup` (run as the tables' owner) has created
-- manual_intervention_log first.

grant select on users, therapist_enrollments, therapist_profiles, manual_intervention_log to {role};

-- The columns a repair writes (docs/rules.md §4, consistency/sql/repair_apply.sql), plus updated_at.
grant update (avatar_url, is_verified, is_active, full_name, updated_at) on users to {role};
grant update (user_id, profile_image_url, bio, experience_years, specializations, updated_at)
    on therapist_enrollments to {role};
grant update (profile_image_url, bio, experience_years, specializations, verification_status, is_verified, updated_at)
    on therapist_profiles to {role};

-- "Create profile" (docs/rules.md §4) inserts a therapist's missing profile.
grant insert on therapist_profiles to {role};

-- Logging interventions, and resolving and annotating them.
grant insert, update on manual_intervention_log to {role};

-- A repair plans each chunk in temporary tables (on the database this runs in).
do $$ begin
    execute format('grant temporary on database %I to %I', current_database(), {role_name});
end $$;
