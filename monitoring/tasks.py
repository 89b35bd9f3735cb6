"""Celery tasks of monitoring: thin wrappers over alerts and digest."""

from celery import shared_task
from django.conf import settings

from . import alerts, digest
from .notify import DeliveryFailed


@shared_task(ignore_result=True)
def evaluate_alerts():
    """Evaluate every alert rule (after each snapshot and finished job), and retry failed notifications."""
    alerts.evaluate()
    alerts.retry_failed()


@shared_task(bind=True, ignore_result=True)
def deliver_notification(self, notification_id):
    """Send one notification; retry a failing destination OPSDASH_ALERT_RETRIES times."""
    try:
        alerts.deliver(notification_id)
    except DeliveryFailed as exc:
        if self.request.retries < settings.OPSDASH_ALERT_RETRIES:
            raise self.retry(
                exc=exc,
                countdown=settings.OPSDASH_ALERT_RETRY_SECONDS * 2**self.request.retries,
                max_retries=settings.OPSDASH_ALERT_RETRIES,
            ) from None


@shared_task(ignore_result=True)
def send_daily_digest():
    """Send the daily digest to every destination that receives it (beat, at OPSDASH_DIGEST_HOUR)."""
    digest.send_digest()
