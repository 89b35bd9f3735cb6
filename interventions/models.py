"""
The platform's log of failed syncs awaiting a human (table ``manual_intervention_log``).

Designed by the platform team (GRACEFUL-DEGRADATION-PATTERN); opsdash reads it,
resolves entries and adds its own, but never migrates it.
"""

import uuid

from django.db import models
from django.db.models.functions import Now


class Intervention(models.Model):
    """One failed sync or link problem, open until someone resolves it."""

    platform_table = True

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    operation = models.TextField()
    # The therapist's normalised email for everything opsdash logs; the platform may
    # write an email or a user id.
    entity_id = models.TextField(null=True, blank=True)
    # Free text that may hold anything a user typed: always render escaped.
    error = models.TextField()
    payload = models.JSONField(null=True, blank=True)
    timestamp = models.DateTimeField(db_default=Now())
    resolved = models.BooleanField(null=True, default=False)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.TextField(null=True, blank=True)
    resolution_notes = models.TextField(null=True, blank=True)

    class Meta:
        managed = False
        db_table = "manual_intervention_log"
        ordering = ["timestamp"]
        permissions = [("resolve_intervention", "Can resolve, annotate and retry interventions")]

    def __str__(self):
        return f"{self.operation} {self.entity_id}"
