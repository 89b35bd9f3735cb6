"""The drill-down pages: the therapists failing one check or link problem."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django_tables2 import RequestConfig

from consistency.permissions import RUN_JOBS
from consistency.reporting.exports import stream_results_csv
from consistency.reporting.overview import latest_snapshot
from consistency.reporting.results import failing
from opsdash.middleware import polled

from ..catalogue import THERAPIST_PROBLEMS
from ..filters import TherapistResultFilter
from ..models import JobRun, TherapistResult
from ..tables import TherapistResultTable

PER_PAGE = 25


def _problem_or_404(problem):
    if problem not in THERAPIST_PROBLEMS:
        raise Http404(f"No check or link problem is called {problem!r}.")
    return problem


@login_required
def drilldown(request, problem):
    """List the therapists failing a check, filtered, sorted and paged; export them as CSV."""
    _problem_or_404(problem)
    filterset = TherapistResultFilter(request.GET, queryset=failing(problem))
    table = TherapistResultTable(filterset.qs, problem=problem, can_resync=request.user.has_perm(RUN_JOBS))
    RequestConfig(request, paginate={"per_page": PER_PAGE}).configure(table)
    if request.GET.get("_export") == "csv":
        return stream_results_csv(table, f"{problem}-{timezone.now():%Y%m%d-%H%M}.csv")
    context = {
        "problem": problem,
        "rule": THERAPIST_PROBLEMS[problem].rule,
        "filter": filterset,
        "table": table,
        "snapshot": latest_snapshot(),
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "consistency/partials/drilldown_results.html", context)
    return render(request, "consistency/drilldown.html", context)


def row_context(request, problem, therapist_id, job=None, error=None):
    """Return what result_row.html needs to render one therapist of a drill-down alone."""
    result = failing(problem).filter(therapist_id=therapist_id).first()
    record = result or TherapistResult.objects.filter(therapist_id=therapist_id).first()
    table = TherapistResultTable(
        [result] if result else [], problem=problem, can_resync=request.user.has_perm(RUN_JOBS)
    )
    table.request = request
    return {
        "table": table,
        "row": table.rows[0] if result else None,
        "problem": problem,
        "therapist_id": therapist_id,
        "record": record,
        "email": request.POST.get("email") or request.GET.get("email") or (record.norm_email if record else ""),
        "job": job,
        "error": error,
        "columns": len(table.columns),
    }


@polled
@login_required
def drilldown_row(request, problem, therapist_id):
    """Render one therapist's row alone: its resync in progress, then its state after it."""
    _problem_or_404(problem)
    # opsdash.inputs keeps ``job`` only when it is a whole number.
    job_id = request.GET.get("job")
    job = JobRun.objects.filter(pk=job_id).first() if job_id else None
    return render(request, "consistency/partials/result_row.html", row_context(request, problem, therapist_id, job))
