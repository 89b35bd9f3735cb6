-- Remove the safety net (docs/rules.md §5): every trigger, function and index that
-- safety_net_install.sql creates, and nothing else. manual_intervention_log stays: it
-- holds the failures a human still has to handle. Idempotent (IF EXISTS throughout).

drop trigger if exists opsdash_sync_avatar_from_users on users;
drop trigger if exists opsdash_sync_avatar_from_enrollments on therapist_enrollments;
drop trigger if exists opsdash_sync_avatar_from_profiles on therapist_profiles;
drop trigger if exists opsdash_sync_profile_data_from_enrollments on therapist_enrollments;
drop trigger if exists opsdash_sync_profile_data_from_profiles on therapist_profiles;
drop trigger if exists opsdash_sync_verification_from_enrollments on therapist_enrollments;

drop function if exists opsdash_sync_avatar();
drop function if exists opsdash_sync_profile_data();
drop function if exists opsdash_sync_verification();
drop function if exists opsdash_report_sync_failure(text, text, text, text, jsonb);
drop function if exists opsdash_log_sync_failure(text, text, text, jsonb);
drop function if exists opsdash_enrollment_therapists(uuid, uuid, text);
drop function if exists opsdash_canonical_enrollment(uuid, text);

drop index if exists opsdash_users_therapist_email_idx;
drop index if exists opsdash_enrollments_unlinked_email_idx;
