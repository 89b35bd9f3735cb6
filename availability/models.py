"""Outages of the services opsdash depends on, kept in opsdash's own database."""

from django.db import models


class Service(models.TextChoices):
    PLATFORM = "platform", "The platform database"
    QUEUE = "queue", "The job queue (Redis)"


class Outage(models.Model):
    """A service that failed to answer, since when, and the last error: one row while it is down."""

    service = models.CharField(max_length=20, choices=Service.choices, unique=True)
    since = models.DateTimeField()
    # When a request last tried the service and it failed: pages skip the service
    # for OPSDASH_OUTAGE_RECHECK_SECONDS after it.
    checked_at = models.DateTimeField()
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["since"]

    def __str__(self):
        return f"{self.get_service_display()} unavailable since {self.since:%Y-%m-%d %H:%M:%S}"
