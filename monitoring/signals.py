"""
Hook opsdash's existing models: evaluate the alert rules after each snapshot and each
finished job, and log every job state and audited action as one structured event.

Receivers rather than calls in consistency/: every path that takes a snapshot or
moves a job (the tasks, `repair_consistency --sync`, the pages) creates these rows.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from consistency.models import FINISHED_STATES, AuditEntry, JobEvent, MetricSnapshot

from .models import AlertRule

logger = logging.getLogger("opsdash.events")


def _queue_evaluation():
    # No rule, no task: opsdash without alerts queues nothing more than before.
    if not AlertRule.objects.filter(enabled=True).exists():
        return
    from .tasks import evaluate_alerts

    try:
        evaluate_alerts.apply_async(queue=settings.CELERY_TASK_DEFAULT_QUEUE)
    except Exception as exc:  # the broker is down: the health rules notice that on their own
        logger.warning("could not queue the alert evaluation: %s", exc)


@receiver(post_save, sender=MetricSnapshot, dispatch_uid="monitoring.snapshot_taken")
def snapshot_taken(sender, instance, created, **kwargs):
    if created:
        transaction.on_commit(_queue_evaluation)


@receiver(post_save, sender=JobEvent, dispatch_uid="monitoring.job_event")
def job_event(sender, instance, created, **kwargs):
    if not created:
        return
    job = instance.job
    logger.info(
        instance.message or instance.state,
        extra={
            "event": f"job.{instance.state}",
            "job_id": job.pk,
            "kind": job.kind,
            "target": job.target,
            "dry_run": job.dry_run,
            "operator": job.requested_by.get_username() if job.requested_by_id else "opsdash",
            "therapists": job.therapists_total,
            "therapists_changed": job.therapists_changed,
            "therapists_failed": job.therapists_failed,
            "interventions_logged": job.interventions_logged,
            "interventions_resolved": job.interventions_resolved,
        },
    )
    if instance.state in FINISHED_STATES:
        transaction.on_commit(_queue_evaluation)


@receiver(post_save, sender=AuditEntry, dispatch_uid="monitoring.audited")
def audited(sender, instance, created, **kwargs):
    if created:
        logger.info(
            f"{instance.actor_name} {instance.action} {instance.target}",
            extra={
                "event": f"audit.{instance.action}",
                "operator": instance.actor_name,
                "target": instance.target,
                "job_id": instance.job_id,
                "details": instance.details,
            },
        )
