"""
Celery tasks: thin wrappers that take ids and call consistency.jobs.runner.

Every task is acks_late and safe to deliver twice (see runner). Connection errors (the
database restarting, a dropped connection, a deadlock) are retried with exponential
backoff; a chunk that still fails is recorded as failed and its chord goes on, so the
final step always closes the job. Time limits and retry counts are in settings.py
(CELERY_TASK_ANNOTATIONS).
"""

import logging

from celery import chord, group, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import InterfaceError, OperationalError

from consistency.jobs import runner
from consistency.jobs import stale as stale_jobs
from consistency.reporting.retention import prune_snapshots
from consistency.reporting.snapshots import take_scheduled_snapshot, take_snapshot

from .models import FINISHED_CHUNK_STATES, JobChunk, JobRun, JobState, SnapshotSource

logger = logging.getLogger(__name__)

RETRYABLE = (OperationalError, InterfaceError)


def _retry_or_give_up(task, exc, give_up):
    """Retry ``task`` after a growing delay, or call ``give_up(reason)`` once out of retries."""
    if task.request.retries < task.max_retries:
        countdown = get_exponential_backoff_interval(
            factor=settings.OPSDASH_TASK_RETRY_BACKOFF,
            retries=task.request.retries,
            maximum=settings.OPSDASH_TASK_RETRY_BACKOFF_MAX,
            full_jitter=True,
        )
        logger.warning("%s: %s; retrying in %ss", task.name, exc, countdown)
        raise task.retry(exc=exc, countdown=countdown)
    give_up(f"Gave up after {task.max_retries} retries: {exc}")


@shared_task(bind=True, acks_late=True, ignore_result=True, name="consistency.tasks.repair_all")
def repair_all(self, job_id):
    """Start a repair-all and fan its chunks out to the workers as one chord."""
    try:
        indexes = runner.begin_repair_all(job_id)
    except RETRYABLE as exc:
        _retry_or_give_up(self, exc, lambda reason: runner.fail_job(job_id, reason))
        return
    except SoftTimeLimitExceeded:
        runner.fail_job(job_id, "Starting the job took longer than its time limit")
        return
    except Exception as exc:
        runner.fail_job(job_id, f"{type(exc).__name__}: {exc}")
        raise
    if not JobRun.objects.filter(pk=job_id, state=JobState.RUNNING).exists():
        return
    try:
        if not indexes:
            # Redelivered after every chunk finished: only the final step is left.
            finish_repair_all.delay(job_id)
            return
        closing = finish_repair_all.si(job_id).on_error(repair_all_broken.s(job_id))
        chord(group(repair_chunk.s(job_id, index) for index in indexes))(closing)
    except Exception as exc:
        # A broker error here would otherwise leave the job running with no task to
        # finish it. Chunks already sent find it failed and do nothing; one already
        # started commits or rolls back on its own.
        logger.exception("could not queue the chunks of job %s", job_id)
        runner.fail_job(job_id, f"Could not queue its chunks: {type(exc).__name__}: {exc}. Start the job again.")


@shared_task(bind=True, acks_late=True, name="consistency.tasks.repair_chunk")
def repair_chunk(self, job_id, index):
    """Repair one chunk of a repair-all; record a failure instead of raising, so the chord completes."""
    try:
        runner.run_chunk(job_id, index)
    except RETRYABLE as exc:
        _retry_or_give_up(self, exc, lambda reason: runner.fail_chunk(job_id, index, reason))
    except SoftTimeLimitExceeded:
        runner.fail_chunk(job_id, index, "The chunk took longer than its time limit and was rolled back")
    except Exception as exc:
        logger.exception("chunk %s of job %s failed", index, job_id)
        runner.fail_chunk(job_id, index, f"{type(exc).__name__}: {exc}")


@shared_task(bind=True, acks_late=True, ignore_result=True, name="consistency.tasks.finish_repair_all")
def finish_repair_all(self, job_id):
    """Close a repair-all: orphan enrollments, the snapshot after, the final state."""
    try:
        runner.finish_repair_all(job_id)
    except RETRYABLE as exc:
        _retry_or_give_up(self, exc, lambda reason: runner.fail_job(job_id, reason))
    except Exception as exc:
        runner.fail_job(job_id, f"Closing the job failed: {type(exc).__name__}: {exc}")
        raise


@shared_task(ignore_result=True, name="consistency.tasks.repair_all_broken")
def repair_all_broken(failed_task_id, job_id):
    """Close a repair-all whose chord broke (a chunk task was killed): its unfinished chunks failed."""
    unfinished = JobChunk.objects.filter(job_id=job_id).exclude(state__in=FINISHED_CHUNK_STATES)
    for index in unfinished.values_list("index", flat=True):
        runner.fail_chunk(job_id, index, f"Its task was killed (time limit or lost worker); see task {failed_task_id}")
    runner.finish_repair_all(job_id)


@shared_task(bind=True, acks_late=True, ignore_result=True, name="consistency.tasks.resync_therapist")
def resync_therapist(self, job_id):
    """Resync the therapist (normalised email) of a resync job."""
    try:
        runner.run_resync(job_id)
    except RETRYABLE as exc:
        _retry_or_give_up(self, exc, lambda reason: runner.fail_job(job_id, reason))
    except SoftTimeLimitExceeded:
        runner.fail_job(job_id, "The resync took longer than its time limit and was rolled back")
    except Exception as exc:
        runner.fail_job(job_id, f"{type(exc).__name__}: {exc}")
        raise


@shared_task(ignore_result=True, name="consistency.tasks.take_metrics_snapshot")
def take_metrics_snapshot(attempt_id=None):
    """
    Record the consistency metrics for the trends (Celery beat, every OPSDASH_SNAPSHOT_MINUTES),
    then delete the snapshots and attempts past their retention (consistency.reporting.retention).

    With ``attempt_id``, the snapshot an operator asked for (consistency.reporting.snapshots.request_snapshot).
    The schedule's never starts while another scheduled snapshot runs.
    """
    if attempt_id is None:
        take_scheduled_snapshot()
    else:
        take_snapshot(SnapshotSource.MANUAL, attempt_id=attempt_id)
    pruned = prune_snapshots()
    if pruned.attempts or pruned.snapshots:
        logger.info("retention: deleted %s snapshot attempts, %s metric snapshots", pruned.attempts, pruned.snapshots)


@shared_task(ignore_result=True, name="consistency.tasks.end_stale_jobs")
def end_stale_jobs():
    """End the active jobs no worker will finish (Celery beat, every minute; README "Stale jobs")."""
    stale_jobs.end_stale_jobs()
