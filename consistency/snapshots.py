"""Take metric snapshots for the trends."""

import time

from django.utils import timezone

from .checks import compute_metrics
from .models import MetricSnapshot, SnapshotSource
from .results import refresh_results


def take_snapshot(source=SnapshotSource.SCHEDULE, job=None):
    """Compute the metrics of every therapist, store them as a snapshot and refresh the drill-down."""
    started = time.monotonic()
    metrics = compute_metrics()
    # The drill-down pages read TherapistResult, not the platform: refreshing it with
    # every snapshot keeps them as fresh as the metrics shown beside them.
    refresh_results()
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
