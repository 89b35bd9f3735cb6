"""Audit entries: who did what to which therapist or intervention, and when (docs/rules.md §6)."""

import getpass

from django.conf import settings
from django.db import models


class AuditAction(models.TextChoices):
    RESYNC = "resync"
    REPAIR_ALL = "repair_all", "Repair all"
    CANCEL = "cancel"
    RESOLVE = "resolve"
    RETRY = "retry"
    NOTE = "note"
    CREATE_PROFILE = "create_profile", "Create profile"
    SAFETY_NET_INSTALL = "safety_net_install", "Install safety net"
    SAFETY_NET_ROLLBACK = "safety_net_rollback", "Roll back safety net"
    CREATE_ACCOUNT = "create_account", "Create account"
    SEED_PLATFORM = "seed_platform", "Seed platform"


class AuditEntry(models.Model):
    """One action that wrote something, recorded when it was asked for."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # Kept beside the foreign key so the entry still names a deleted account.
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=30, choices=AuditAction.choices)
    # A therapist's normalised email, an intervention id, or "all".
    target = models.CharField(max_length=255, db_index=True)
    job = models.ForeignKey("consistency.JobRun", null=True, blank=True, on_delete=models.SET_NULL)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name_plural = "audit entries"

    def __str__(self):
        return f"{self.actor_name} {self.action} {self.target}"


def cli_actor_name():
    """Return who runs a management command, as its audit entries name them: cli:<system user>."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name for this uid (a bare container)
        return "cli"


def record(actor, action, target, job=None, actor_name=None, **details):
    """
    Record an audit entry for an action of ``actor``: a user, or None for opsdash itself
    (or for whoever ``actor_name`` names, e.g. cli_actor_name() in a management command).
    """
    signed_in = actor is not None and actor.is_authenticated
    return AuditEntry.objects.create(
        actor=actor if signed_in else None,
        actor_name=actor.get_username() if signed_in else (actor_name or "opsdash"),
        action=action,
        target=target,
        job=job,
        details=details,
    )
