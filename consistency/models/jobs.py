"""Job runs: every repair-all and resync opsdash runs, with its progress and outcome (docs/rules.md §6)."""

from django.conf import settings
from django.db import models


class JobKind(models.TextChoices):
    REPAIR_ALL = "repair_all", "Repair all"
    RESYNC = "resync", "Resync one therapist"


class JobState(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PARTIALLY_FAILED = "partially_failed", "Partially failed"
    CANCELLED = "cancelled"


FINISHED_STATES = (JobState.SUCCEEDED, JobState.FAILED, JobState.PARTIALLY_FAILED, JobState.CANCELLED)
ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING)


class JobRun(models.Model):
    """One run of a repair job, updated while it runs so a page can draw its progress."""

    kind = models.CharField(max_length=20, choices=JobKind.choices)
    # The therapist's normalised email for a resync; empty for a repair of everyone.
    target = models.CharField(max_length=255, blank=True)
    dry_run = models.BooleanField(default=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="job_runs"
    )
    celery_task_id = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=20, choices=JobState.choices, default=JobState.QUEUED)
    cancel_requested = models.BooleanField(default=False)
    # Progress: chunks for a repair-all, therapists for a resync.
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    # Therapists examined, those with at least one row written (or, in a dry run, that
    # would be) and those whose repair failed and went to manual_intervention_log.
    therapists_total = models.PositiveIntegerField(default=0)
    therapists_changed = models.PositiveIntegerField(default=0)
    therapists_failed = models.PositiveIntegerField(default=0)
    # {"users": {"avatar_url": 12, ...}, "therapist_profiles": {...}, ...}
    rows_changed = models.JSONField(default=dict, blank=True)
    interventions_logged = models.PositiveIntegerField(default=0)
    interventions_resolved = models.PositiveIntegerField(default=0)
    metrics_before = models.JSONField(null=True, blank=True)
    metrics_after = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["kind", "state"])]
        constraints = [
            # One repair of everyone at a time: the database refuses a second queued or
            # running one, so two quick clicks (or two web servers) start a single job.
            models.UniqueConstraint(
                fields=["kind"],
                condition=models.Q(kind="repair_all", dry_run=False, state__in=["queued", "running"]),
                name="one_active_repair_all",
            ),
        ]
        permissions = [
            ("run_jobs", "Can run repair-all and resync"),
            ("manage_safety_net", "Can install and roll back the safety-net triggers"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_finished(self):
        return self.state in FINISHED_STATES

    @property
    def percent(self):
        if not self.progress_total:
            return 100 if self.is_finished else 0
        return min(100, round(100 * self.progress_done / self.progress_total))

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class JobEvent(models.Model):
    """A state a job went through, with when and why."""

    job = models.ForeignKey(JobRun, on_delete=models.CASCADE, related_name="events")
    state = models.CharField(max_length=20, choices=JobState.choices)
    at = models.DateTimeField(auto_now_add=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"job {self.job_id}: {self.state}"


class ChunkState(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"


FINISHED_CHUNK_STATES = (ChunkState.DONE, ChunkState.SKIPPED, ChunkState.FAILED)


class JobChunk(models.Model):
    """
    One keyset range of therapists of a repair-all (after < users.id <= upto).

    The row makes a chunk task idempotent: a redelivered task finds its chunk done
    and adds nothing twice to the job's totals.
    """

    job = models.ForeignKey(JobRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    after = models.UUIDField()
    upto = models.UUIDField()
    # The chunk's share of what the job looked up once by normalised email
    # (consistency.engine.chunk_keys); empty on chunks of jobs started before it existed.
    keys = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=20, choices=ChunkState.choices, default=ChunkState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    therapists = models.PositiveIntegerField(default=0)
    therapists_changed = models.PositiveIntegerField(default=0)
    therapists_failed = models.PositiveIntegerField(default=0)
    rows_changed = models.JSONField(default=dict, blank=True)
    interventions_logged = models.PositiveIntegerField(default=0)
    interventions_resolved = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="one_row_per_chunk")]

    def __str__(self):
        return f"chunk {self.index} of job #{self.job_id}"
