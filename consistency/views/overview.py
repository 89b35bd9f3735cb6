"""The overview page and its live fragment."""

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from kombu.exceptions import KombuError

from availability import guard
from availability.models import Service
from consistency.permissions import RUN_JOBS
from consistency.reporting import overview
from consistency.reporting.snapshots import fail_request, request_snapshot
from opsdash.middleware import polled

from ..models import SnapshotSource
from ..tasks import take_metrics_snapshot

SESSION_RATE = "overview_refresh_rate"


def _context(rate):
    snapshot = overview.latest_snapshot()
    attempts = overview.snapshot_status(snapshot)
    running, finished = overview.running_and_recent_jobs()
    safety_net, triggers = overview.safety_net_triggers()
    return {
        "safety_net": safety_net,
        "triggers": triggers,
        "snapshot": snapshot,
        "inconsistent": snapshot.therapists - snapshot.consistent if snapshot else 0,
        "check_rows": overview.check_rows(snapshot) if snapshot else [],
        "link_problem_rows": overview.link_problem_rows(snapshot) if snapshot else [],
        "interventions": overview.intervention_status(snapshot),
        "running_jobs": running,
        "recent_jobs": finished,
        "attempts": attempts,
        "every": rate,
        # How often the live part asks again: at once while a snapshot asked for is taken.
        "poll": overview.FOLLOW_RATE if attempts.pending else rate,
        "rates": overview.REFRESH_RATES,
    }


@login_required
def overview_page(request):
    """Show the consistency metrics, the intervention count, the safety net and the jobs."""
    rate = overview.parse_refresh_rate(request.session.get(SESSION_RATE))
    return render(request, "consistency/overview.html", _context(rate))


@polled
@login_required
def overview_live(request):
    """Render the overview's live part alone, for htmx polling; remember the rate asked for."""
    rate = overview.parse_refresh_rate(
        request.GET.get("every"), request.session.get(SESSION_RATE, overview.DEFAULT_REFRESH_RATE)
    )
    # Written only when it changes: a poll at the same rate leaves the session alone.
    if request.session.get(SESSION_RATE) != rate:
        request.session[SESSION_RATE] = rate
    return render(request, "consistency/partials/overview_live.html", _context(rate))


@login_required
@permission_required(RUN_JOBS, raise_exception=True)
@require_POST
def refresh_snapshot(request):
    """
    Queue a new snapshot of the metrics, taken by the worker (seconds at a million therapists).

    The overview follows it (its attempt) until it ends, then shows its figures or why it failed.
    """
    attempt = request_snapshot(SnapshotSource.MANUAL)
    try:
        # A fresh broker connection, as jobs._enqueue: an outage shows at once.
        with take_metrics_snapshot.app.connection_for_write() as connection:
            take_metrics_snapshot.apply_async(
                args=[attempt.pk], connection=connection, queue=settings.CELERY_TASK_DEFAULT_QUEUE
            )
    except (KombuError, OSError) as exc:
        guard.mark_down(Service.QUEUE, exc)
        # The overview shows it as the last snapshot's failure.
        fail_request(attempt, f"The queue is unavailable, no snapshot was queued: {exc}")
    return redirect("consistency:overview")
