"""The therapist page: one therapist's three rows, what a resync would write, and its history."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from consistency.engine import email_keys
from consistency.engine.checks import normalise_email, states_for_email
from consistency.jobs import service as jobs
from consistency.permissions import RUN_JOBS
from consistency.reporting import therapists

from ..catalogue import THERAPIST_PROBLEMS
from ..models import JobKind, JobRun
from ..tables import therapist_url
from .drilldown import row_context


def _preview(email):
    """Return (what a resync would write, why there is no preview)."""
    try:
        return jobs.resync_preview(email), None
    except jobs.JobError as exc:
        return [], str(exc)


def _profile_preview(email):
    """Return (the profile "create the missing profile" would insert, why it cannot)."""
    try:
        return jobs.create_missing_profile_preview(email), None
    except jobs.JobError as exc:
        return None, str(exc)


def _found(email):
    """
    Return what the page shows of the therapists of an email (normalised).

    With one therapist, the dry run of its resync marks the cells it would write;
    several users sharing the email share one preview, listed but not marked.
    """
    states = states_for_email(email) if email else []
    preview, preview_error = _preview(email) if states else ([], None)
    marked = preview if len(states) == 1 and not preview_error else None
    found = []
    for state in states:
        item = {
            "state": state,
            "matrix": therapists.matrix(state, marked),
            "timeline": therapists.timeline(state.norm_email, [state.therapist_id]),
        }
        if state.missing_profile:
            item["profile_preview"], item["profile_error"] = _profile_preview(email)
        found.append(item)
    return {
        "email": email,
        "found": found,
        "preview": preview,
        "preview_error": preview_error,
        "email_keys_as_of": email_keys.in_use() if email else None,
    }


def _followed_job(request, email):
    """Return the resync of this email the page follows (``?job=``), if there is one."""
    job_id = request.GET.get("job", "")
    if not (email and job_id.isdigit()):
        return None
    return JobRun.objects.filter(pk=job_id, kind=JobKind.RESYNC, target=email).first()


@login_required
def therapist_page(request):
    """Find the therapists of an email and show each one's rows and timeline; follow a resync of it."""
    email = normalise_email(request.GET.get("email"))
    context = _found(email)
    context.update(searched_email=request.GET.get("email", ""), job=_followed_job(request, email))
    return render(request, "consistency/therapist.html", context)


@login_required
def therapist_live(request):
    """
    Answer the page's poll of the resync it follows: the job's state while it runs;
    once it has finished, the therapist drawn again as the job left it.
    """
    email = normalise_email(request.GET.get("email"))
    job = _followed_job(request, email)
    if job is None:
        raise Http404("No resync of this therapist has that number.")
    context = {"email": email, "job": job, "redraw": job.is_finished}
    if job.is_finished:
        context.update(_found(email))
    return render(request, "consistency/partials/resync_follow.html", context)


@login_required
@permission_required(RUN_JOBS, raise_exception=True)
@require_POST
def resync(request):
    """
    Queue a resync of one therapist (found by normalised email).

    From a drill-down row (htmx, with ``problem`` and ``row``) answer with that row,
    which then follows the job until it has finished; otherwise go to the therapist page.
    """
    email = request.POST.get("email", "")
    problem, row = request.POST.get("problem"), request.POST.get("row")
    in_row = bool(request.htmx and problem in THERAPIST_PROBLEMS and row)
    try:
        job = jobs.start_resync(request.user, email)
    except jobs.JobError as exc:
        if in_row:
            return render(
                request, "consistency/partials/result_row.html", row_context(request, problem, row, error=str(exc))
            )
        messages.error(request, str(exc))
        return redirect(therapist_url(normalise_email(email)))
    if in_row:
        return render(request, "consistency/partials/result_row.html", row_context(request, problem, row, job=job))
    messages.success(request, f"Resync of {job.target or email} queued as job #{job.pk}.")
    return redirect(therapist_url(normalise_email(job.target or email), job=job.pk))


@login_required
@permission_required(RUN_JOBS, raise_exception=True)
@require_POST
def create_profile(request):
    """Create the missing profile of a therapist from its canonical enrollment (docs/rules.md §4), as previewed."""
    email = request.POST.get("email", "")
    try:
        profile_id = jobs.create_missing_profile(request.user, email, request.POST.get("licensed_qualification", ""))
    except jobs.JobError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Created the profile {profile_id} of {normalise_email(email)}.")
    return redirect(therapist_url(normalise_email(email)))
