-- The indexes opsdash recommends in the platform database, beyond the safety net's.
-- `manage.py platform_setup` runs each statement on its own, CONCURRENTLY, so that the
-- platform's reads and writes go on while an index builds; one left invalid by a
-- failed build is dropped and built again. The safety-net page shows their state.
--
-- Add an index as one more statement of exactly this form (consistency/platform/setup.py
-- reads the name and the table from it):
--   create index concurrently if not exists <name> on <table> (...) [where ...];

-- A therapist is found by normalised email (docs/rules.md §2): the therapist page,
-- `repair_consistency --email` and a resync. Without this the lookup scans users
-- (6-10 s at 1,000,000 therapists, docs/benchmarks.md); the safety net's partial
-- index covers therapists only, and only where it is installed.
create index concurrently if not exists opsdash_users_email_norm_idx
    on users (lower(btrim(email)));

-- A therapist's enrollments, linked or unlinked, by normalised email (docs/rules.md §2).
create index concurrently if not exists opsdash_enrollments_email_norm_idx
    on therapist_enrollments (lower(btrim(email)));
