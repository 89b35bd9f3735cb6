"""The permissions of consistency's actions, as views, the API and the admin check them (migration 0004_roles)."""

# Run repair-all and resyncs, cancel one's own jobs, create a missing profile (Operators).
RUN_JOBS = "consistency.run_jobs"
