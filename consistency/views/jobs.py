"""The jobs pages: history, one job's progress and outcome."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django_tables2 import RequestConfig

from .. import job_report
from ..models import FINISHED_STATES, JobRun
from ..tables import JobRunTable


@login_required
def jobs_page(request):
    """List the running jobs and the history of every job."""
    table = JobRunTable(JobRun.objects.select_related("requested_by"))
    RequestConfig(request, paginate={"per_page": 25}).configure(table)
    context = {
        "table": table,
        "running_jobs": JobRun.objects.exclude(state__in=FINISHED_STATES).select_related("requested_by").order_by("created_at"),
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "consistency/partials/job_history.html", context)
    return render(request, "consistency/jobs.html", context)


def _job_context(request, job):
    return {
        "job": job,
        "events": job.events.all(),
        "changed_columns": job_report.changed_columns(job),
        "metric_changes": job_report.metric_changes(job),
    }


@login_required
def job_page(request, pk):
    """Show one job: its progress while it runs, then every state, what it changed and achieved."""
    job = get_object_or_404(JobRun.objects.select_related("requested_by"), pk=pk)
    return render(request, "consistency/job.html", _job_context(request, job))


@login_required
def job_live(request, pk):
    """Render a job's live part alone, for htmx polling while it runs."""
    job = get_object_or_404(JobRun.objects.select_related("requested_by"), pk=pk)
    return render(request, "consistency/partials/job_live.html", _job_context(request, job))
