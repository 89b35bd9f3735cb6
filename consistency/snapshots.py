"""Take metric snapshots for the trends."""

import time

from django.utils import timezone

from .checks import compute_metrics
from .models import MetricSnapshot, SnapshotSource


def take_snapshot(source=SnapshotSource.SCHEDULE, job=None):
    """Compute the metrics of every therapist and store them as a snapshot."""
    started = time.monotonic()
    metrics = compute_metrics()
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
