"""
Evaluate the alert rules, open and clear incidents, and notify their destinations.

1. Each enabled rule says what is wrong now, as {key: summary} (a check, a job kind...).
2. A key wrong now without an open incident opens one; an open incident whose key is
   no longer wrong is cleared. Both are conditional writes (a partial unique index and
   an UPDATE ... WHERE cleared_at IS NULL), so two evaluations at once notify once.
3. Opening and clearing each create one Notification per destination, delivered by a
   Celery task that retries a failing destination; while an incident stays open
   nothing more is sent.
"""

import logging
import threading

from celery import current_task
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connections, transaction
from django.db.models import F
from django.utils import timezone

from consistency.catalogue import CHECK_NAMES
from consistency.models import FINISHED_STATES, JobKind, JobRun, JobState, MetricSnapshot
from interventions.filters import InterventionFilter
from interventions.queue import unresolved, unresolved_count

from . import health
from .models import AlertRule, Incident, Notification, NotificationEvent, NotificationState, RuleKind
from .notify import DeliveryFailed, send

logger = logging.getLogger("opsdash.events")

# The rules about opsdash's own machinery: a worker task cannot tell that no worker
# runs, so these are also evaluated by the web process and `manage.py evaluate_alerts`.
HEALTH_KINDS = (RuleKind.WORKER_MISSING, RuleKind.SNAPSHOT_STALE)
HEALTH_EVALUATION_SECONDS = 60


def _latest_snapshot():
    return MetricSnapshot.objects.order_by("-taken_at").first()


def _percent(part, whole):
    return 100 * part / whole if whole else 100.0


def _check_consistency(rule):
    snapshot = _latest_snapshot()
    if snapshot is None:
        return {}
    wrong = {}
    for check in [rule.check_name] if rule.check_name else CHECK_NAMES:
        passing = _percent(snapshot.therapists - snapshot.inconsistent.get(check, 0), snapshot.therapists)
        if passing < rule.threshold:
            wrong[check] = f"{check}: {passing:.1f}% of therapists pass, under {rule.threshold:g}%"
    return wrong


def _consistent_percent(rule):
    snapshot = _latest_snapshot()
    if snapshot is None:
        return {}
    consistent = _percent(snapshot.consistent, snapshot.therapists)
    if consistent < rule.threshold:
        return {"consistent": f"{consistent:.1f}% of therapists are consistent, under {rule.threshold:g}%"}
    return {}


def _interventions(rule):
    target = settings.OPSDASH_INTERVENTION_TARGET if rule.threshold is None else rule.threshold
    count = unresolved_count()
    if count is not None and count >= target:
        return {"unresolved": f"{count} unresolved interventions, target under {target:g}"}
    return {}


def _job_failed(rule):
    """A job kind is wrong while its latest finished (not cancelled) job failed, wholly or partly."""
    wrong = {}
    for kind in JobKind:
        latest = (
            JobRun.objects.filter(kind=kind, state__in=FINISHED_STATES)
            .exclude(state=JobState.CANCELLED)
            .order_by("-finished_at", "-pk")
            .first()
        )
        if latest and latest.state in (JobState.FAILED, JobState.PARTIALLY_FAILED):
            reason = (latest.error or "").splitlines()[0][:200] if latest.error else latest.get_state_display()
            wrong[kind.value] = f"{latest} {latest.get_state_display().lower()}: {reason}"
    return wrong


def _worker_missing(rule):
    names = health.workers()
    if names:
        return {}
    if names is None:
        return {"workers": "The task queue (Redis) does not answer: no worker can be reached."}
    return {"workers": f"No worker consumes the queue {settings.CELERY_TASK_DEFAULT_QUEUE}."}


def _snapshot_stale(rule):
    snapshot = _latest_snapshot()
    if snapshot is None:
        return {"snapshot": "No snapshot has been taken."}
    age = timezone.now() - snapshot.taken_at
    if age > health.snapshot_stale_after(snapshot):
        return {"snapshot": f"The latest snapshot is {int(age.total_seconds() // 60)} min old: beat missed two."}
    return {}


def _intervention_regressed(rule):
    regressed = InterventionFilter({"regression": "on"}, queryset=unresolved()).qs
    count = regressed.count() if unresolved_count() is not None else 0
    if not count:
        return {}
    examples = ", ".join(f"{op} of {entity}" for op, entity in regressed.values_list("operation", "entity_id")[:3])
    return {"regressions": f"{count} interventions are back after being resolved: {examples}"}


EVALUATORS = {
    RuleKind.CHECK_CONSISTENCY: _check_consistency,
    RuleKind.CONSISTENT_PERCENT: _consistent_percent,
    RuleKind.INTERVENTIONS: _interventions,
    RuleKind.JOB_FAILED: _job_failed,
    RuleKind.WORKER_MISSING: _worker_missing,
    RuleKind.SNAPSHOT_STALE: _snapshot_stale,
    RuleKind.INTERVENTION_REGRESSED: _intervention_regressed,
}


def evaluate(kinds=None):
    """Evaluate the enabled rules (of ``kinds``, or all); return the notifications created."""
    rules = AlertRule.objects.filter(enabled=True).prefetch_related("destinations")
    if kinds is not None:
        rules = rules.filter(kind__in=kinds)
    created = []
    for rule in rules:
        wrong = EVALUATORS[rule.kind](rule)
        created += _open(rule, wrong)
        created += _clear(rule, wrong)
    for notification in created:
        transaction.on_commit(lambda pk=notification.pk: _deliver_later(pk))
    return created


def _open(rule, wrong):
    created = []
    for key, summary in wrong.items():
        try:
            with transaction.atomic():
                incident = Incident.objects.create(rule=rule, key=key, summary=summary)
        except IntegrityError:
            continue  # already open: notified when it opened
        logger.warning(
            "alert opened", extra={"event": "alert.opened", "rule": rule.name, "key": key, "summary": summary}
        )
        created += _notifications(incident, NotificationEvent.OPENED)
    return created


def _clear(rule, wrong):
    created = []
    for incident in Incident.objects.filter(rule=rule, cleared_at__isnull=True).exclude(key__in=list(wrong)):
        if not Incident.objects.filter(pk=incident.pk, cleared_at__isnull=True).update(cleared_at=timezone.now()):
            continue  # another evaluation cleared it first
        logger.info("alert cleared", extra={"event": "alert.cleared", "rule": rule.name, "key": incident.key})
        created += _notifications(incident, NotificationEvent.CLEARED)
    return created


def _notifications(incident, event):
    return [
        Notification.objects.get_or_create(incident=incident, destination=destination, event=event)[0]
        for destination in incident.rule.destinations.filter(enabled=True)
    ]


def message(notification):
    """Return the title and body of a notification."""
    incident = notification.incident
    if notification.event == NotificationEvent.OPENED:
        return f"[opsdash] {incident.rule}: {incident.summary}", (
            f"{incident.summary}\n\nOpened at {incident.opened_at:%Y-%m-%d %H:%M:%S %Z}. "
            "opsdash sends one more message when it clears."
        )
    return f"[opsdash] Cleared: {incident.rule}", (
        f"Cleared at {incident.cleared_at:%Y-%m-%d %H:%M:%S %Z}, opened at {incident.opened_at:%Y-%m-%d %H:%M:%S %Z}: "
        f"{incident.summary}"
    )


def deliver(notification_id):
    """
    Try to send one notification; return True once it is sent.

    Raises DeliveryFailed (after recording the error) so the caller can retry.
    """
    notification = Notification.objects.select_related("incident__rule", "destination").get(pk=notification_id)
    if notification.state == NotificationState.SENT:
        return True
    title, body = message(notification)
    Notification.objects.filter(pk=notification_id).update(attempts=F("attempts") + 1)
    try:
        send(notification.destination, title, body)
    except DeliveryFailed as exc:
        Notification.objects.filter(pk=notification_id).update(state=NotificationState.FAILED, error=str(exc))
        logger.warning(
            "alert delivery failed",
            extra={"event": "alert.delivery_failed", "notification": notification_id, "error": str(exc)},
        )
        raise
    Notification.objects.filter(pk=notification_id).update(
        state=NotificationState.SENT, sent_at=timezone.now(), error=""
    )
    logger.info(
        "alert sent",
        extra={
            "event": "alert.sent",
            "notification": notification_id,
            "destination": notification.destination.name,
            "alert_event": notification.event,
        },
    )
    return True


def _deliver_later(notification_id):
    """Queue the delivery to a worker; with no worker online (or no Redis), deliver here and now."""
    from .tasks import deliver_notification

    # Within a task a worker is certainly there (a solo worker busy with this very task
    # cannot answer the ping).
    if current_task or health.workers():
        try:
            deliver_notification.apply_async((notification_id,), queue=settings.CELERY_TASK_DEFAULT_QUEUE)
            return
        except Exception:  # the broker went away since the ping: deliver here instead
            logger.warning("could not queue notification %s; delivering it now", notification_id)
    try:
        deliver(notification_id)
    except DeliveryFailed:
        pass  # recorded; retry_failed() tries again at the next evaluation


def retry_failed():
    """Deliver again the notifications that failed and still have retries left."""
    failed = Notification.objects.filter(state=NotificationState.FAILED, attempts__lte=settings.OPSDASH_ALERT_RETRIES)
    for pk in failed.values_list("pk", flat=True):
        try:
            deliver(pk)
        except DeliveryFailed:
            pass


def acknowledge(incident, user):
    """Record that ``user`` has seen an open incident; return whether it was still unacknowledged."""
    return bool(
        Incident.objects.filter(pk=incident.pk, acknowledged_at__isnull=True).update(
            acknowledged_by=user, acknowledged_at=timezone.now()
        )
    )


def open_incidents():
    """Return the open incidents, newest first, for the overview."""
    return Incident.objects.filter(cleared_at__isnull=True).select_related("rule", "acknowledged_by")


def evaluate_health_soon():
    """
    Evaluate the health rules in the background, at most once a minute per web process.

    Called when the overview polls: a worker task cannot report that no worker runs,
    so the web process watches for it (and `manage.py evaluate_alerts` from cron).
    """
    if not AlertRule.objects.filter(enabled=True, kind__in=HEALTH_KINDS).exists():
        return
    if not cache.add("opsdash:health-rules-evaluated", True, HEALTH_EVALUATION_SECONDS):
        return
    threading.Thread(target=_evaluate_health, name="opsdash-health-alerts", daemon=True).start()


def _evaluate_health():
    try:
        evaluate(HEALTH_KINDS)
        retry_failed()
    except Exception:
        logger.exception("evaluating the health rules failed")
    finally:
        connections.close_all()
