"""The jobs pages: history, one job's progress and outcome."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from consistency.jobs import report as job_report
from consistency.jobs import service as jobs
from consistency.jobs import stale as stale_jobs
from consistency.permissions import RUN_JOBS
from opsdash.middleware import polled

from ..models import FINISHED_STATES, JobRun
from ..tables import JobRunTable


@login_required
def jobs_page(request):
    """List the running jobs and the history of every job."""
    table = JobRunTable(JobRun.objects.select_related("requested_by"))
    RequestConfig(request, paginate={"per_page": 25}).configure(table)
    running_jobs = list(
        JobRun.objects.exclude(state__in=FINISHED_STATES).select_related("requested_by").order_by("created_at")
    )
    for job in running_jobs:
        job.stale = stale_jobs.stale_reason(job)
    context = {"table": table, "running_jobs": running_jobs, "can_run": request.user.has_perm(RUN_JOBS)}
    if request.htmx and not request.htmx.boosted:
        return render(request, "consistency/partials/job_history.html", context)
    return render(request, "consistency/jobs.html", context)


def _job_context(request, pk):
    job, events = job_report.read_job(pk)
    if job is None:
        raise Http404(f"No job #{pk}.")
    user = request.user
    return {
        "job": job,
        # jobs.request_cancel decides; this only spares the others a button they cannot use.
        "can_cancel": user.has_perm(RUN_JOBS) and jobs.may_cancel(job, user),
        "can_run": user.has_perm(RUN_JOBS),
        "stale": stale_jobs.stale_reason(job),
        "events": events,
        "changed_columns": job_report.changed_columns(job),
        "metric_changes": job_report.metric_changes(job),
    }


@login_required
def job_page(request, pk):
    """Show one job: its progress while it runs, then every state, what it changed and achieved."""
    return render(request, "consistency/job.html", _job_context(request, pk))


@polled
@login_required
def job_live(request, pk):
    """Render a job's live part alone, for htmx polling while it runs."""
    return render(request, "consistency/partials/job_live.html", _job_context(request, pk))


def _start_repair_all(request, dry_run):
    try:
        job = jobs.start_repair_all(request.user, dry_run=dry_run)
    except jobs.JobAlreadyRunning as exc:
        messages.error(request, str(exc))
        return redirect("consistency:job", exc.job.pk)
    except jobs.JobError as exc:
        messages.error(request, str(exc))
        return redirect("consistency:jobs")
    return redirect("consistency:job", job.pk)


@login_required
@permission_required(RUN_JOBS, raise_exception=True)
@require_POST
def repair_all_preview(request):
    """Start a dry run of repair-all: its page shows what would change, then offers the real run."""
    return _start_repair_all(request, dry_run=True)


@login_required
@permission_required(RUN_JOBS, raise_exception=True)
@require_POST
def repair_all(request):
    """Start repair-all for real, once confirmed; a second click meets the job the first one started."""
    if request.POST.get("confirmed") != "yes":
        messages.error(request, "Repair-all starts from the confirmation under its dry run.")
        return redirect("consistency:jobs")
    return _start_repair_all(request, dry_run=False)


@login_required
@permission_required(RUN_JOBS, raise_exception=True)
@require_POST
def cancel_job(request, pk):
    """Ask a job to stop after the chunk in hand (its starter or a superuser only)."""
    job = get_object_or_404(JobRun, pk=pk)
    if jobs.request_cancel(job, request.user):
        messages.success(request, f"{job} stops after the chunk in hand.")
    else:
        messages.info(request, f"{job} had already finished.")
    return redirect("consistency:job", job.pk)


@login_required
@permission_required(RUN_JOBS, raise_exception=True)
@require_POST
def end_stale_job(request, pk):
    """End a stale job as failed (any operator: a stale repair-all blocks everyone's next one)."""
    job = get_object_or_404(JobRun, pk=pk)
    try:
        ended = jobs.end_stale(job, request.user)
    except jobs.JobError as exc:
        messages.error(request, str(exc))
    else:
        if ended:
            messages.success(request, f"{job} was ended as failed; a new one may start.")
        else:
            messages.info(request, f"{job} had already finished.")
    return redirect("consistency:job", job.pk)
