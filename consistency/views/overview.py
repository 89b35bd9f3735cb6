"""The overview page and its live fragment."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from availability import guard

from .. import overview
from ..tasks import take_metrics_snapshot

SESSION_RATE = "overview_refresh_rate"


def _context(rate):
    snapshot = overview.latest_snapshot()
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
        "every": rate,
        "rates": overview.REFRESH_RATES,
    }


@login_required
def overview_page(request):
    """Show the consistency metrics, the intervention count, the safety net and the jobs."""
    rate = overview.parse_refresh_rate(request.session.get(SESSION_RATE))
    return render(request, "consistency/overview.html", _context(rate))


@login_required
def overview_live(request):
    """Render the overview's live part alone, for htmx polling; remember the rate asked for."""
    rate = overview.parse_refresh_rate(request.GET.get("every"), request.session.get(SESSION_RATE, overview.DEFAULT_REFRESH_RATE))
    request.session[SESSION_RATE] = rate
    return render(request, "consistency/partials/overview_live.html", _context(rate))


@login_required
@permission_required("consistency.run_jobs", raise_exception=True)
@require_POST
def refresh_snapshot(request):
    """Queue a new snapshot of the metrics, taken by the worker (seconds at a million therapists)."""
    try:
        guard.queue(take_metrics_snapshot.apply_async, queue=settings.CELERY_TASK_DEFAULT_QUEUE)
    except guard.Unavailable as exc:
        messages.error(request, f"{exc} No snapshot was queued.")
    else:
        messages.success(request, "A new snapshot is on its way: the figures update when it is taken.")
    return redirect("consistency:overview")
