"""
Gather what the overview page shows.

The metrics come from the latest MetricSnapshot, never from compute_metrics(): at a
million therapists that takes seconds, and the overview is polled every few seconds
by every open tab. Snapshots are taken by Celery beat, after every job, and on
"Refresh now"; the page says how old its figures are.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from availability import guard
from consistency.catalogue import CHECKS, LINK_PROBLEMS, THERAPIST_PROBLEMS
from consistency.models import (
    FINISHED_STATES,
    PENDING_ATTEMPT_STATES,
    AttemptState,
    JobRun,
    MetricSnapshot,
    SnapshotAttempt,
)
from consistency.safety_net import service as safety_net
from interventions.queue import unresolved_count

# The refresh rates a user may pick for the live overview, in seconds (0: paused).
REFRESH_RATES = (0, 5, 15, 30, 60)
DEFAULT_REFRESH_RATE = 15
# While a snapshot asked for is being taken, the live part asks this often (seconds)
# whether it has ended, whatever the refresh rate chosen.
FOLLOW_RATE = 1
# A snapshot asked for that has not ended after this long never will: no worker took
# it, or the worker died taking it (one takes well under a minute at a million therapists).
LOST_AFTER = timedelta(minutes=15)


@dataclass(frozen=True)
class MetricRow:
    """One line of the overview's tables: a check or link problem and how many fail it."""

    name: str
    count: int
    total: int
    unit: str = "therapists"

    @property
    def drilldown(self):
        """Tell whether the problem has a drill-down page: those of therapists (not orphan enrollments)."""
        return self.name in THERAPIST_PROBLEMS

    @property
    def percent(self):
        return 100 * self.count / self.total if self.total else 0.0

    @property
    def passing_percent(self):
        return 100 - self.percent


def latest_snapshot():
    """Return the newest metric snapshot, or None before the first one."""
    return MetricSnapshot.objects.order_by("-taken_at").first()


@dataclass(frozen=True)
class SnapshotStatus:
    """What became of the snapshots asked for, beside the latest one taken."""

    pending: SnapshotAttempt | None = None  # asked for, not ended: the page follows it
    lost: SnapshotAttempt | None = None  # asked for LOST_AFTER ago and never ended
    failed: SnapshotAttempt | None = None  # the last one to end, when it failed after the latest snapshot


def snapshot_status(snapshot):
    """Return the pending, lost and failed snapshot attempts the overview tells of, given the latest snapshot."""
    pending = SnapshotAttempt.objects.filter(state__in=PENDING_ATTEMPT_STATES).order_by("-requested_at").first()
    lost = None
    if pending is not None and pending.requested_at < timezone.now() - LOST_AFTER:
        pending, lost = None, pending
    ended = SnapshotAttempt.objects.exclude(state__in=PENDING_ATTEMPT_STATES).order_by("-finished_at").first()
    failed = None
    if ended is not None and ended.state == AttemptState.FAILED:
        if snapshot is None or ended.finished_at > snapshot.taken_at:
            failed = ended
    return SnapshotStatus(pending=pending, lost=lost, failed=failed)


def check_rows(snapshot):
    """Return one row per check of docs/rules.md §3 with its count of failing therapists."""
    return [MetricRow(c.name, snapshot.inconsistent.get(c.name, 0), snapshot.therapists) for c in CHECKS]


def link_problem_rows(snapshot):
    """Return one row per link problem of docs/rules.md §3, in the unit docs/rules.md §7 counts it in."""
    return [
        MetricRow(p.name, snapshot.link_problems.get(p.name, 0), snapshot.therapists, p.unit) for p in LINK_PROBLEMS
    ]


def intervention_status(snapshot=None):
    """
    Return the unresolved interventions against the platform team's target.

    Counted now; while the platform database is unavailable, as the latest snapshot
    counted them (``as_of`` says when), or None.
    """
    as_of = None
    try:
        count = guard.platform(unresolved_count)
    except guard.Unavailable:
        count = snapshot.unresolved_interventions if snapshot else None
        as_of = snapshot.taken_at if snapshot else None
        unavailable = True
    else:
        unavailable = False
    target = settings.OPSDASH_INTERVENTION_TARGET
    return {
        "count": count,
        "target": target,
        "within_target": count is not None and count < target,
        "unavailable": unavailable,
        "as_of": as_of,
    }


def running_and_recent_jobs(recent=5):
    """Return the jobs still queued or running, and the last few that finished."""
    running = list(
        JobRun.objects.exclude(state__in=FINISHED_STATES).select_related("requested_by").order_by("created_at")
    )
    finished = list(JobRun.objects.filter(state__in=FINISHED_STATES).select_related("requested_by")[:recent])
    return running, finished


def parse_refresh_rate(value, default=DEFAULT_REFRESH_RATE):
    """Return the refresh rate asked for if it is one the page offers, else ``default``."""
    try:
        rate = int(value)
    except (TypeError, ValueError):
        return default
    return rate if rate in REFRESH_RATES else default


def safety_net_triggers():
    """Return the safety net's status and its triggers' (catalog reads only), or (None, []) while the platform is unavailable."""
    try:
        status = guard.platform(safety_net.status)
    except guard.Unavailable:
        return None, []
    return status, [o for o in status.objects if o.kind == safety_net.TRIGGER]
