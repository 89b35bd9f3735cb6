"""
Job orchestration: the service that starts, refuses, cancels and previews jobs, a job's
steps, how a task meets an error, stale jobs and the job report.

Other apps start jobs through the names below and nothing else of this package
(docs/architecture.md, "Between the apps"): the runner, the tasks' error handling and
the engine under them stay consistency's own.
"""

from .service import JobAlreadyRunning, JobError, QueueUnavailable, start_repair_all, start_resync

__all__ = ["JobAlreadyRunning", "JobError", "QueueUnavailable", "start_repair_all", "start_resync"]
