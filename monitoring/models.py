"""Alert rules, their destinations, the incidents they open and the notifications sent."""

import apprise
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from consistency.catalogue import CHECK_NAMES


class Destination(models.Model):
    """Where notifications go: an Apprise URL (Slack, Teams, ntfy, PagerDuty, webhooks...) or an email address."""

    name = models.CharField(max_length=100, unique=True)
    apprise_url = models.TextField(
        "Apprise URL",
        blank=True,
        help_text="e.g. slack://TokenA/TokenB/TokenC/#ops, ntfy://ntfy.sh/opsdash, json://host/path",
    )
    email = models.EmailField(blank=True, help_text="Sent through Django's mail settings instead of Apprise.")
    enabled = models.BooleanField(default=True)
    receives_digest = models.BooleanField("receives the daily digest", default=False)

    def __str__(self):
        return self.name

    def clean(self):
        if bool(self.apprise_url) == bool(self.email):
            raise ValidationError("Give either an Apprise URL or an email address.")
        if self.apprise_url and not apprise.Apprise().add(self.apprise_url):
            raise ValidationError({"apprise_url": "Apprise does not recognise this URL."})


class RuleKind(models.TextChoices):
    CHECK_CONSISTENCY = "check_consistency", "A check's consistency falls under a threshold (%)"
    CONSISTENT_PERCENT = "consistent_percent", "Consistent therapists fall under a percentage"
    INTERVENTIONS = "interventions", "Unresolved interventions reach a count (default: the target)"
    JOB_FAILED = "job_failed", "A job fails"
    WORKER_MISSING = "worker_missing", "No worker consumes the queue"
    SNAPSHOT_STALE = "snapshot_stale", "The latest snapshot is stale (beat missed two)"
    INTERVENTION_REGRESSED = "intervention_regressed", "An intervention regresses"


# The rules that need a threshold; the others fire on an event or a state.
THRESHOLD_KINDS = (RuleKind.CHECK_CONSISTENCY, RuleKind.CONSISTENT_PERCENT)


class AlertRule(models.Model):
    """A condition watched after every snapshot and job; each breach opens one incident."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=30, choices=RuleKind.choices)
    check_name = models.CharField(
        "check",
        max_length=30,
        blank=True,
        choices=[(c, c) for c in CHECK_NAMES],
        help_text="For a check's consistency: the check; empty watches every check.",
    )
    threshold = models.FloatField(
        null=True,
        blank=True,
        help_text="Percent passing for the consistency rules; a count of unresolved interventions "
        "(empty: OPSDASH_INTERVENTION_TARGET).",
    )
    enabled = models.BooleanField(default=True)
    destinations = models.ManyToManyField(Destination, blank=True, related_name="rules")

    def __str__(self):
        return self.name

    def clean(self):
        if self.kind in THRESHOLD_KINDS and self.threshold is None:
            raise ValidationError({"threshold": "This rule needs a threshold (a percentage)."})
        if self.kind in THRESHOLD_KINDS and not 0 <= self.threshold <= 100:
            raise ValidationError({"threshold": "A percentage is between 0 and 100."})
        if self.check_name and self.kind != RuleKind.CHECK_CONSISTENCY:
            raise ValidationError({"check_name": "Only a check's consistency rule watches one check."})


class Incident(models.Model):
    """A rule's condition, from when it started to hold until it stopped; notified once each way."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="incidents")
    # What within the rule is wrong: a check's name, a job kind, or the rule's kind.
    key = models.CharField(max_length=100)
    summary = models.TextField()
    opened_at = models.DateTimeField(auto_now_add=True, db_index=True)
    cleared_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            # One open incident per rule and key: two evaluations at once open it once.
            models.UniqueConstraint(
                fields=["rule", "key"], condition=models.Q(cleared_at__isnull=True), name="one_open_incident"
            ),
        ]

    def __str__(self):
        return f"{self.rule}: {self.summary}"

    @property
    def is_open(self):
        return self.cleared_at is None


class NotificationEvent(models.TextChoices):
    OPENED = "opened"
    CLEARED = "cleared"


class NotificationState(models.TextChoices):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class Notification(models.Model):
    """One message about an incident to one destination, tried until it is sent or out of retries."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="notifications")
    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=10, choices=NotificationEvent.choices)
    state = models.CharField(max_length=10, choices=NotificationState.choices, default=NotificationState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "destination", "event"], name="one_notification_per_event"),
        ]

    def __str__(self):
        return f"{self.event} of incident {self.incident_id} to {self.destination_id}: {self.state}"
