"""Job orchestration: the service that starts, refuses, cancels and previews jobs, a job's steps, stale jobs and the job report."""
