"""
The steps of a job run, called by the Celery tasks and by `repair_consistency --sync`.

Tasks are delivered at least once (acks_late), so every step first reads the job and
acts only when the job (or chunk) is in the state the step expects: a redelivered
task does its work once, and adds nothing twice to the job's totals. State changes
are conditional UPDATEs, each recorded as a JobEvent.
"""

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from consistency.catalogue import CHECK_NAMES, THERAPIST_LINK_PROBLEM_NAMES
from consistency.engine import repair
from consistency.engine.checks import therapist_count, whole_table_counts
from consistency.engine.chunk_keys import chunk_keys
from consistency.models import (
    ACTIVE_STATES,
    FINISHED_CHUNK_STATES,
    ChunkState,
    JobChunk,
    JobEvent,
    JobRun,
    JobState,
)
from consistency.reporting.snapshots import after_repair
from interventions.queue import unresolved_count
from interventions.schema import require_intervention_log

logger = logging.getLogger(__name__)


def transition(
    job_id: int, state: str, message: str = "", from_states: Iterable[str] = ACTIVE_STATES, **fields
) -> bool:
    """Move a job to ``state`` if it is in one of ``from_states``; return whether it moved."""
    with transaction.atomic():
        moved = JobRun.objects.filter(pk=job_id, state__in=from_states).update(state=state, **fields)
        if moved:
            JobEvent.objects.create(job_id=job_id, state=state, message=message)
    return bool(moved)


def fail_job(job_id: int, error: str) -> None:
    """Mark an unfinished job failed with the reason; its chunks not started yet are skipped."""
    end_job(job_id, JobState.FAILED, error)


def end_job(
    job_id: int,
    state: str,
    message: str,
    lost_before: datetime | None = None,
    from_states: Iterable[str] = ACTIVE_STATES,
    unless_in_hand: bool = False,
) -> bool:
    """
    End an active job now, in ``state``; return whether it ended.

    Its chunks not started yet are skipped, so a task of theirs still in a queue finds
    nothing to do. A chunk running since before ``lost_before`` belongs to a worker that
    is gone (Celery kills a task at its hard time limit): it is marked failed. A chunk
    running since later is in hand: its transaction commits or rolls back on its own,
    and it adds its counts when it ends. With ``unless_in_hand`` the job is left running
    while such a chunk exists.
    """
    now = timezone.now()
    with transaction.atomic():
        # Locking the unfinished chunks orders this against run_chunk's claim: a chunk
        # is either claimed first (and is in hand) or skipped here (and never claimed).
        # The job row after the chunks, in the order _finish_chunk takes them.
        unfinished = list(
            JobChunk.objects.select_for_update().filter(job_id=job_id).exclude(state__in=FINISHED_CHUNK_STATES)
        )
        if not list(JobRun.objects.select_for_update().filter(pk=job_id, state__in=from_states).values_list("pk")):
            return False
        running = [c for c in unfinished if c.state == ChunkState.RUNNING]
        lost = [
            c.pk for c in running if lost_before is not None and c.started_at is not None and c.started_at < lost_before
        ]
        if unless_in_hand and len(lost) < len(running):
            return False
        JobChunk.objects.filter(pk__in=lost).update(
            state=ChunkState.FAILED, finished_at=now, error="Its worker was lost before the chunk finished"
        )
        JobChunk.objects.filter(job_id=job_id, state=ChunkState.PENDING).update(
            state=ChunkState.SKIPPED, finished_at=now
        )
        fields = {"error": message} if state == JobState.FAILED else {}
        return transition(job_id, state, message, from_states=from_states, finished_at=now, **fields)


def _claim(job_id, message):
    """Move a queued job to running; tell whether it is running now (a redelivery finds it so)."""
    job = JobRun.objects.get(pk=job_id)
    if job.state == JobState.QUEUED:
        if job.cancel_requested:
            transition(job_id, JobState.CANCELLED, "Cancelled before it started", finished_at=timezone.now())
            return False
        transition(job_id, JobState.RUNNING, message, from_states=[JobState.QUEUED], started_at=timezone.now())
    return JobRun.objects.filter(pk=job_id, state=JobState.RUNNING).exists()


# ------------------------------------------------------------------------------
# Repair all
# ------------------------------------------------------------------------------
def begin_repair_all(job_id: int) -> list[int]:
    """
    Start a repair-all and return the indexes of the chunks still to run.

    1. Claim the job (queued -> running).
    2. Unless it is a dry run, fail at once where manual_intervention_log is missing
       (manage.py platform_setup creates it: jobs never change the schema).
    3. Cut the therapists into keyset chunks of OPSDASH_REPAIR_CHUNK_SIZE and store
       one JobChunk per chunk, with its share of the lookups by normalised email and of
       the open interventions, done once for the job (consistency.engine.chunk_keys).
    The metrics before are not a pass of their own: each chunk adds the state its plan
    read before writing (_finish_chunk), and the closing step the counts of other
    units. Only the unresolved interventions are counted here, as the job starts.
    A redelivered task skips to returning the chunks not finished yet.
    """
    if not _claim(job_id, "Started"):
        return []
    job = JobRun.objects.get(pk=job_id)
    if not job.chunks.exists():
        if not job.dry_run:
            require_intervention_log()
        metrics = _empty_metrics()
        bounds = repair.chunk_bounds(settings.OPSDASH_REPAIR_CHUNK_SIZE)
        keys = chunk_keys(bounds)
        with transaction.atomic():
            JobChunk.objects.bulk_create(
                [
                    JobChunk(job_id=job_id, index=i, after=after, upto=upto, keys=keys[i])
                    for i, (after, upto) in enumerate(bounds)
                ],
                ignore_conflicts=True,
            )
            JobRun.objects.filter(pk=job_id).update(progress_total=len(bounds), metrics_before=metrics)
        JobEvent.objects.create(
            job_id=job_id,
            state=JobState.RUNNING,
            message=f"{therapist_count()} therapists in {len(bounds)} chunks of up to "
            f"{settings.OPSDASH_REPAIR_CHUNK_SIZE}",
        )
    return list(job.chunks.exclude(state__in=FINISHED_CHUNK_STATES).values_list("index", flat=True))


def _empty_metrics():
    """Return the metrics before a repair-all as it starts: no therapist counted yet."""
    return {
        "therapists": 0,
        "consistent": 0,
        "inconsistent": dict.fromkeys(CHECK_NAMES, 0),
        "link_problems": dict.fromkeys(THERAPIST_LINK_PROBLEM_NAMES, 0),
        "unresolved_interventions": unresolved_count(),
        "computed_at": timezone.now().isoformat(),
    }


def run_chunk(job_id: int, index: int) -> None:
    """
    Repair one chunk of a repair-all and add its counts to the job.

    A chunk is one transaction of the platform database, so it is either fully done
    or untouched. When the job was cancelled the chunk is skipped: the job stops after
    the chunks in hand.
    """
    job = JobRun.objects.only("state", "dry_run", "cancel_requested").get(pk=job_id)
    if job.state != JobState.RUNNING:
        return
    # A chunk found "running" belongs to a worker that died (its task is redelivered)
    # or to a duplicate delivery; repairing it again is harmless, as the repair is
    # idempotent and only the first to finish adds its counts.
    claimed = (
        JobChunk.objects.filter(job_id=job_id, index=index)
        .exclude(state__in=FINISHED_CHUNK_STATES)
        .update(state=ChunkState.RUNNING, attempts=F("attempts") + 1, started_at=timezone.now())
    )
    if not claimed:
        return
    chunk = JobChunk.objects.get(job_id=job_id, index=index)
    if job.cancel_requested:
        _finish_chunk(chunk, ChunkState.SKIPPED)
        return
    result = repair.repair_range(
        str(chunk.after), str(chunk.upto), dry_run=job.dry_run, job_id=job_id, keys=chunk.keys or None
    )
    _finish_chunk(chunk, ChunkState.DONE, result)


def fail_chunk(job_id: int, index: int, error: str) -> None:
    """Record that a chunk gave up (after its retries); the job goes on with the others."""
    chunk = JobChunk.objects.get(job_id=job_id, index=index)
    _finish_chunk(chunk, ChunkState.FAILED, error=error)


def _finish_chunk(chunk, state, result=None, error=""):
    result = result or repair.RepairResult()
    with transaction.atomic():
        finished = (
            JobChunk.objects.filter(pk=chunk.pk)
            .exclude(state__in=FINISHED_CHUNK_STATES)
            .update(
                state=state,
                finished_at=timezone.now(),
                therapists=result.therapists,
                error=error,
                **result.totals(),
            )
        )
        if not finished:
            return  # another delivery of this chunk finished it first
        # Locking the job row serialises the chunks' additions to rows_changed (a JSON
        # document F() cannot add to); the counters are F() increments all the same.
        job = JobRun.objects.select_for_update().only("rows_changed", "metrics_before").get(pk=chunk.job_id)
        JobRun.objects.filter(pk=chunk.job_id).update(
            rows_changed=repair.add_counts(job.rows_changed or repair.empty_counts(), result.rows_changed),
            metrics_before=repair.add_metrics(job.metrics_before or {}, result.metrics),
            progress_done=F("progress_done") + (0 if state == ChunkState.SKIPPED else 1),
            therapists_total=F("therapists_total") + result.therapists,
            therapists_changed=F("therapists_changed") + result.therapists_changed,
            therapists_failed=F("therapists_failed") + len(result.failures),
            interventions_logged=F("interventions_logged") + result.interventions_logged,
            interventions_resolved=F("interventions_resolved") + result.interventions_resolved,
        )
    logger.info(
        "chunk %s of job %s %s",
        chunk.index,
        chunk.job_id,
        state,
        extra={"event": "job.chunk", "job_id": chunk.job_id, "chunk": chunk.index, "state": state,
               "therapists": result.therapists, "therapists_changed": result.therapists_changed,
               "therapists_failed": len(result.failures), "error": error},
    )  # fmt: skip
    if state == ChunkState.FAILED:
        JobEvent.objects.create(
            job_id=chunk.job_id, state=JobState.RUNNING, message=f"Chunk {chunk.index} failed: {error}"
        )


def finish_repair_all(job_id: int) -> None:
    """
    Close a repair-all once every chunk is finished.

    1. Log the orphan enrollments once (they belong to no therapist, so no chunk did).
    2. Take the metrics snapshot of the result (consistency.reporting.snapshots.after_repair).
    3. Complete the metrics before with what no chunk counts (_metrics_before).
    4. Record the final state: cancelled, failed, partially failed or succeeded.
    Called by the last chunk's chord; a duplicate call finds the job finished.
    """
    job = JobRun.objects.get(pk=job_id)
    if job.state != JobState.RUNNING or job.chunks.exclude(state__in=FINISHED_CHUNK_STATES).exists():
        return
    chunks = job.chunks.all()
    skipped = chunks.filter(state=ChunkState.SKIPPED).count()
    failed = list(chunks.filter(state=ChunkState.FAILED).values_list("index", "error"))
    fields: dict[str, Any] = {}
    if not job.dry_run:
        if not skipped:
            logged, resolved = repair.log_orphan_enrollments(job_id=job_id)
            fields["interventions_logged"] = F("interventions_logged") + logged
            fields["interventions_resolved"] = F("interventions_resolved") + resolved
        fields["metrics_after"] = _metrics_after(job)
    fields["metrics_before"] = _metrics_before(job, fields.get("metrics_after"), complete=not skipped and not failed)
    job.refresh_from_db()
    state, message = _outcome(job, len(chunks), skipped, failed)
    if failed:
        fields["error"] = "\n".join(f"chunk {index}: {error}" for index, error in failed)
    transition(job_id, state, message, from_states=[JobState.RUNNING], finished_at=timezone.now(), **fields)


def _metrics_after(job):
    return after_repair(job=job).as_metrics()


def _metrics_before(job, metrics_after, complete):
    """
    Return the metrics before the job: what its chunks' plans read, plus the counts of
    other units, or None when some chunk was skipped or failed (its therapists were
    not counted, so the figures would not describe everyone).

    A repair never changes an email, an enrollment's status nor who exists, so the
    duplicate users and the orphan enrollments are what the snapshot after counted
    (a dry run, which takes none, counts them).
    """
    if not complete:
        return None
    others = whole_table_counts() if metrics_after is None else metrics_after
    before = dict(job.metrics_before)
    before["link_problems"] = {
        **before["link_problems"],
        "duplicate_user": others["link_problems"]["duplicate_user"],
        "orphan_enrollment": others["link_problems"]["orphan_enrollment"],
    }
    return before


def _outcome(job, chunks, skipped, failed):
    verb = "would change" if job.dry_run else "changed"
    summary = (
        f"{job.therapists_total} therapists examined, {job.therapists_changed} {verb}, "
        f"{job.therapists_failed} whose repair failed"
    )
    if skipped:
        return JobState.CANCELLED, f"Cancelled after {chunks - skipped} of {chunks} chunks: {summary}"
    if failed and len(failed) == chunks:
        return JobState.FAILED, f"Every chunk failed: {summary}"
    if failed or job.therapists_failed:
        return JobState.PARTIALLY_FAILED, f"{len(failed)} of {chunks} chunks failed: {summary}"
    return JobState.SUCCEEDED, summary


def run_repair_all(job_id: int, progress: Callable[[JobRun], None] | None = None) -> JobRun:
    """Run a whole repair-all in this process, chunk after chunk (repair_consistency --sync)."""
    for index in begin_repair_all(job_id):
        run_chunk(job_id, index)
        if progress:
            progress(JobRun.objects.get(pk=job_id))
    finish_repair_all(job_id)
    return JobRun.objects.get(pk=job_id)


# ------------------------------------------------------------------------------
# Resync one therapist
# ------------------------------------------------------------------------------
def run_resync(job_id: int) -> None:
    """
    Repair the therapists of one normalised email (docs/rules.md §4 resync) and close the job.

    Every user with that normalised email is resynced; several means duplicate users.
    """
    if not _claim(job_id, "Started"):
        return
    job = JobRun.objects.get(pk=job_id)
    require_intervention_log()
    result = repair.repair_email(job.target, job_id=job_id)
    after_repair(therapist_ids=repair.therapist_ids_for_email(job.target), job=job)
    if not result.therapists:
        state, message = JobState.FAILED, f"No therapist has the email {job.target} any more"
    elif result.failures and len(result.failures) == result.therapists:
        state, message = JobState.FAILED, f"The repair failed and was logged: {result.failures[0].error}"
    elif result.failures:
        state, message = JobState.PARTIALLY_FAILED, f"{len(result.failures)} of {result.therapists} therapists failed"
    else:
        state = JobState.SUCCEEDED
        message = f"{result.rows_changed_total} values changed" if result.therapists_changed else "Already consistent"
    transition(
        job_id,
        state,
        message,
        from_states=[JobState.RUNNING],
        finished_at=timezone.now(),
        progress_total=result.therapists,
        progress_done=result.therapists,
        therapists_total=result.therapists,
        **result.totals(),
        error="\n".join(f"{f.email}: {f.error}" for f in result.failures),
    )
