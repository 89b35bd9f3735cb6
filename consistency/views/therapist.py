"""The therapist page: one therapist's three rows, what a resync would write, and its history."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from .. import therapists
from ..checks import normalise_email, states_for_email
from ..models.results import PROBLEMS
from .drilldown import _row_context


@login_required
def therapist_page(request):
    """Find the therapists of an email (normalised) and show each one's rows and timeline."""
    email = normalise_email(request.GET.get("email"))
    found = []
    if email:
        for state in states_for_email(email):
            found.append(
                {
                    "state": state,
                    "matrix": therapists.matrix(state),
                    "timeline": therapists.timeline(state.norm_email, [state.therapist_id]),
                }
            )
    return render(
        request,
        "consistency/therapist.html",
        {"email": email, "searched_email": request.GET.get("email", ""), "found": found, "tables": therapists.TABLES},
    )


@login_required
@permission_required("consistency.run_jobs", raise_exception=True)
@require_POST
def resync(request):
    """
    Queue a resync of one therapist (found by normalised email).

    From a drill-down row (htmx, with ``problem`` and ``row``) answer with that row,
    which then follows the job until it has finished; otherwise go to the therapist page.
    """
    from .. import jobs

    email = request.POST.get("email", "")
    problem, row = request.POST.get("problem"), request.POST.get("row")
    in_row = bool(request.htmx and problem in PROBLEMS and row)
    try:
        job = jobs.start_resync(request.user, email)
    except jobs.JobError as exc:
        if in_row:
            return render(request, "consistency/partials/result_row.html", _row_context(request, problem, row, error=str(exc)))
        messages.error(request, str(exc))
        return redirect(_therapist_url(email))
    if in_row:
        return render(request, "consistency/partials/result_row.html", _row_context(request, problem, row, job=job))
    messages.success(request, f"Resync of {job.target or email} queued as job #{job.pk}.")
    return redirect(_therapist_url(job.target or email))


def _therapist_url(email):
    return reverse("consistency:therapist") + "?" + urlencode({"email": normalise_email(email)})
