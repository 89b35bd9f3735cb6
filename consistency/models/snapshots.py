"""Metric snapshots: the consistency metrics over time, for trends (docs/rules.md §6)."""

from django.db import models
from django.utils import timezone


class SnapshotSource(models.TextChoices):
    SCHEDULE = "schedule"
    JOB = "job"
    MANUAL = "manual"
    STARTUP = "startup"  # the run command's, before its web server answers


class MetricSnapshot(models.Model):
    """The metrics of compute_metrics() at one moment."""

    taken_at = models.DateTimeField(db_index=True)
    source = models.CharField(max_length=20, choices=SnapshotSource.choices, default=SnapshotSource.SCHEDULE)
    job = models.ForeignKey("consistency.JobRun", null=True, blank=True, on_delete=models.SET_NULL)
    therapists = models.PositiveIntegerField()
    consistent = models.PositiveIntegerField()
    # {"avatar": 12, ...} and {"unlinked_enrollment": 3, ...} as in consistency_report --json.
    inconsistent = models.JSONField()
    link_problems = models.JSONField()
    unresolved_interventions = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-taken_at"]
        get_latest_by = "taken_at"

    def __str__(self):
        return f"snapshot {self.taken_at:%Y-%m-%d %H:%M}"

    def as_metrics(self):
        """Return the snapshot in the shape of compute_metrics()."""
        return {
            "therapists": self.therapists,
            "consistent": self.consistent,
            "inconsistent": self.inconsistent,
            "link_problems": self.link_problems,
            "unresolved_interventions": self.unresolved_interventions,
            "computed_at": self.taken_at.isoformat(),
        }


class AttemptState(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


PENDING_ATTEMPT_STATES = (AttemptState.QUEUED, AttemptState.RUNNING)


class SnapshotAttempt(models.Model):
    """
    One snapshot asked for (Refresh now, Celery beat, a repair-all's close) and how it went.

    The overview follows the pending one and says when the last one failed, and why.
    """

    source = models.CharField(max_length=20, choices=SnapshotSource.choices, default=SnapshotSource.SCHEDULE)
    state = models.CharField(max_length=20, choices=AttemptState.choices, default=AttemptState.QUEUED)
    requested_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Indexed: the overview asks for the last one to end on every poll.
    finished_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The exception, shortened (ERROR_LENGTH); the worker's log has the traceback.
    error = models.TextField(blank=True)
    snapshot = models.ForeignKey(MetricSnapshot, null=True, blank=True, on_delete=models.SET_NULL)
    job = models.ForeignKey("consistency.JobRun", null=True, blank=True, on_delete=models.SET_NULL)

    ERROR_LENGTH = 500

    class Meta:
        ordering = ["-requested_at"]
        get_latest_by = "requested_at"

    def __str__(self):
        return f"snapshot attempt {self.requested_at:%Y-%m-%d %H:%M:%S} ({self.state})"
