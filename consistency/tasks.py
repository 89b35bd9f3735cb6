"""
Celery tasks: thin wrappers that take ids and call consistency.jobs.runner.

Every task is acks_late and safe to deliver twice (see runner). Errors are handled once,
by consistency.jobs.handling: connection errors are retried with exponential backoff,
and a chunk that still fails is recorded as failed while its chord goes on, so the
final step always closes the job. Time limits and retry counts are in settings.py
(CELERY_TASK_ANNOTATIONS).
"""

import logging
from functools import partial

from celery import chord, group, shared_task

from consistency.jobs import runner
from consistency.jobs import stale as stale_jobs
from consistency.jobs.handling import handled
from consistency.reporting.retention import prune_snapshots
from consistency.reporting.snapshots import take_scheduled_snapshot, take_snapshot

from .models import FINISHED_CHUNK_STATES, JobChunk, JobRun, JobState, SnapshotSource

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, ignore_result=True, name="consistency.tasks.repair_all")
def repair_all(self, job_id):
    """Start a repair-all and fan its chunks out to the workers as one chord."""
    indexes = None
    with handled(self, partial(runner.fail_job, job_id), time_limit="Starting the job took longer than its time limit"):
        indexes = runner.begin_repair_all(job_id)
    if indexes is None or not JobRun.objects.filter(pk=job_id, state=JobState.RUNNING).exists():
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
    with handled(
        self,
        partial(runner.fail_chunk, job_id, index),
        time_limit="The chunk took longer than its time limit and was rolled back",
        reraise=False,
    ):
        runner.run_chunk(job_id, index)


@shared_task(bind=True, acks_late=True, ignore_result=True, name="consistency.tasks.finish_repair_all")
def finish_repair_all(self, job_id):
    """Close a repair-all: orphan enrollments, the snapshot after, the final state."""
    with handled(self, partial(runner.fail_job, job_id), prefix="Closing the job failed: "):
        runner.finish_repair_all(job_id)


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
    time_limit = "The resync took longer than its time limit and was rolled back"
    with handled(self, partial(runner.fail_job, job_id), time_limit=time_limit):
        runner.run_resync(job_id)


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
