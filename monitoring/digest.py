"""
The daily digest: consistency per check today against yesterday and last week, the
interventions opened and resolved, and the jobs run, sent at OPSDASH_DIGEST_HOUR.
"""

import logging
from datetime import timedelta

from django.db.models import Count
from django.utils import timezone

from consistency.catalogue import CHECK_NAMES
from consistency.models import JobRun, MetricSnapshot
from interventions.models import Intervention
from interventions.schema import intervention_log_exists

from .models import Destination
from .notify import DeliveryFailed, send

logger = logging.getLogger("opsdash.events")


def _snapshot_at(moment):
    """Return the latest snapshot taken at or before ``moment``."""
    return MetricSnapshot.objects.filter(taken_at__lte=moment).order_by("-taken_at").first()


def _passing(snapshot, check=None):
    if snapshot is None or not snapshot.therapists:
        return None
    failing = snapshot.inconsistent.get(check, 0) if check else snapshot.therapists - snapshot.consistent
    return 100 * (snapshot.therapists - failing) / snapshot.therapists


def build(now=None):
    """Return the digest's figures over the day before ``now``."""
    now = now or timezone.now()
    since = now - timedelta(days=1)
    snapshots = {
        "today": _snapshot_at(now),
        "yesterday": _snapshot_at(since),
        "last_week": _snapshot_at(now - timedelta(days=7)),
    }
    rows = [("consistent", *(_passing(s) for s in snapshots.values()))]
    rows += [(check, *(_passing(s, check) for s in snapshots.values())) for check in CHECK_NAMES]
    interventions = None
    if intervention_log_exists():
        interventions = {
            "opened": Intervention.objects.filter(timestamp__gt=since, timestamp__lte=now).count(),
            "resolved": Intervention.objects.filter(resolved=True, resolved_at__gt=since, resolved_at__lte=now).count(),
        }
    jobs = list(
        JobRun.objects.filter(created_at__gt=since, created_at__lte=now)
        .values("kind", "state")
        .annotate(count=Count("id"))
        .order_by("kind", "state")
    )
    return {"since": since, "until": now, "rows": rows, "interventions": interventions, "jobs": jobs}


def _cell(value):
    return "–" if value is None else f"{value:.1f}%"


def render(figures):
    """Return the digest as a title and a plain-text body."""
    title = f"[opsdash] Daily digest, {timezone.localtime(figures['until']):%Y-%m-%d}"
    lines = ["Therapists passing each check", f"{'check':<16}{'today':>9}{'yesterday':>11}{'last week':>11}"]
    lines += [f"{name:<16}{_cell(t):>9}{_cell(y):>11}{_cell(w):>11}" for name, t, y, w in figures["rows"]]
    lines.append("")
    if figures["interventions"] is None:
        lines.append("Interventions: the platform has no manual_intervention_log yet.")
    else:
        i = figures["interventions"]
        lines.append(f"Interventions in the last 24 h: {i['opened']} opened, {i['resolved']} resolved.")
    lines.append("")
    if figures["jobs"]:
        lines.append("Jobs in the last 24 h:")
        lines += [f"  {job['kind']} {job['state']}: {job['count']}" for job in figures["jobs"]]
    else:
        lines.append("No job ran in the last 24 h.")
    return title, "\n".join(lines)


def send_digest(now=None):
    """Send the digest to every enabled destination that receives it; return how many took it."""
    title, body = render(build(now))
    sent = 0
    for destination in Destination.objects.filter(enabled=True, receives_digest=True):
        try:
            send(destination, title, body)
        except DeliveryFailed as exc:
            logger.warning(
                "digest not delivered",
                extra={"event": "digest.failed", "destination": destination.name, "error": str(exc)},
            )
        else:
            sent += 1
    logger.info("digest sent", extra={"event": "digest.sent", "destinations": sent})
    return sent
