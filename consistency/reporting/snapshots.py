"""Take metric snapshots for the trends."""

import time

from django.db import connections, transaction
from django.utils import timezone

from consistency.engine import email_keys
from consistency.engine.checks import compute_metrics
from consistency.models import AttemptState, MetricSnapshot, SnapshotAttempt, SnapshotSource
from consistency.reporting.results import failing_counts, refresh_results
from opsdash.db import PLATFORM_DB

# Held by the scheduled snapshot while it runs (opsdash's own database, session lock).
_SCHEDULED_LOCK = 74_210_002


def take_scheduled_snapshot():
    """
    Take the scheduled snapshot, unless one is running: return it, or None when skipped.

    A snapshot of a million therapists takes longer than some schedules allow; beat
    must never start a second one beside it (they would only slow each other down).
    """
    with connections["default"].cursor() as cursor:
        cursor.execute("select pg_try_advisory_lock(%s)", [_SCHEDULED_LOCK])
        if not cursor.fetchone()[0]:
            return None
        try:
            return take_snapshot(SnapshotSource.SCHEDULE)
        finally:
            cursor.execute("select pg_advisory_unlock(%s)", [_SCHEDULED_LOCK])


def _same_snapshot(platform):
    """Make the transaction just begun on the platform read one snapshot throughout."""
    with platform.cursor() as cursor:
        cursor.execute("set transaction isolation level repeatable read")


def request_snapshot(source=SnapshotSource.MANUAL):
    """Record a snapshot asked for, before its task is queued: the overview follows it."""
    return SnapshotAttempt.objects.create(source=source)


def fail_request(attempt, error):
    """Record that a snapshot asked for failed (or could not even be queued), and why."""
    SnapshotAttempt.objects.filter(pk=attempt.pk).update(
        state=AttemptState.FAILED, finished_at=timezone.now(), error=_short(error)
    )


def _short(error):
    return str(error).strip()[: SnapshotAttempt.ERROR_LENGTH]


def take_snapshot(source=SnapshotSource.SCHEDULE, job=None, attempt_id=None):
    """
    Compute the metrics of every therapist, store them as a snapshot and refresh the drill-down.

    The attempt (``attempt_id``, as request_snapshot recorded it, else a new one) says
    when it ran and how it ended: with its snapshot, or failed, with the error.
    """
    attempt = _start(attempt_id, source, job)
    try:
        snapshot = _take(source, job)
    except Exception as exc:
        fail_request(attempt, f"{type(exc).__name__}: {exc}")
        raise
    SnapshotAttempt.objects.filter(pk=attempt.pk).update(
        state=AttemptState.SUCCEEDED, finished_at=timezone.now(), snapshot=snapshot
    )
    return snapshot


def _start(attempt_id, source, job):
    now = timezone.now()
    if attempt_id is not None:
        SnapshotAttempt.objects.filter(pk=attempt_id).update(state=AttemptState.RUNNING, started_at=now)
        attempt = SnapshotAttempt.objects.filter(pk=attempt_id).first()
        if attempt is not None:
            return attempt
    return SnapshotAttempt.objects.create(
        source=source, job=job, state=AttemptState.RUNNING, requested_at=now, started_at=now
    )


def _take(source, job):
    # The drill-down pages read TherapistResult, not the platform: refreshing it with
    # every snapshot keeps them as fresh as the metrics shown beside them. The metrics
    # are counted from what the refresh just copied, so the therapist-state statement
    # runs once, not twice; both read one snapshot of the platform (REPEATABLE READ).
    started = time.monotonic()
    platform = connections[PLATFORM_DB]
    outermost = not platform.in_atomic_block  # else the caller's transaction decides
    with transaction.atomic(using=PLATFORM_DB):
        if outermost:
            _same_snapshot(platform)
        refresh_results()
        metrics = compute_metrics(failing=failing_counts())
        email_keys.refresh_if_needed()
    return MetricSnapshot.objects.create(
        taken_at=timezone.now(),
        source=source,
        job=job,
        therapists=metrics["therapists"],
        consistent=metrics["consistent"],
        inconsistent=metrics["inconsistent"],
        link_problems=metrics["link_problems"],
        unresolved_interventions=metrics["unresolved_interventions"],
        duration_ms=round(1000 * (time.monotonic() - started)),
    )


def after_repair(therapist_ids=None, job=None):
    """
    Bring what the pages show up to date after a repair or resync wrote to the platform.

    With ``therapist_ids``, only those therapists changed (a resync); without, any may
    have (a repair-all), and a snapshot records the metrics the job achieved.
    """
    if therapist_ids is None:
        return take_snapshot(SnapshotSource.JOB, job=job)
    refresh_results(therapist_ids)
    return None
