"""The intervention queue and the operator actions on it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from availability import guard
from consistency.models import MetricSnapshot
from consistency.permissions import RUN_JOBS
from interventions.schema import intervention_log_exists

from . import actions, queue, selection
from .filters import InterventionFilter
from .forms import BulkActionForm, GroupActionForm
from .models import Intervention
from .tables import InterventionGroupTable

PER_PAGE = 25
RESOLVE_PERMISSION = "interventions.resolve_intervention"
# A retry queues a resync: it needs the right to run jobs as well.
DONE = {
    "resolve": "Resolved {n} intervention{s}.",
    "note": "Added the note to {n} intervention{s}.",
    "retry": "Queued {n} resync{s}: each resolves its interventions when it finds the problem gone.",
}


def _filtered(request_data):
    return InterventionFilter(request_data, queryset=queue.unresolved())


def _back(request, fallback="interventions:queue"):
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect(fallback)


def _queue_context(request):
    if not intervention_log_exists():
        return {"no_log": True}
    filterset = _filtered(request.GET)
    # An invalid filter lists nothing and offers no bulk action, rather than everything.
    errors = [] if filterset.is_valid() else selection.filter_errors(filterset)
    selected = filterset.qs.none() if errors else filterset.qs
    table = InterventionGroupTable(queue.groups(selected), request=request)
    RequestConfig(request, paginate={"per_page": PER_PAGE}).configure(table)
    # Read the page's rows here, where an outage is caught, not while rendering.
    table.page.object_list = list(table.page.object_list)
    return {
        "filter": filterset,
        "filter_errors": errors,
        "table": table,
        "open_count": selected.count(),
        "filter_params": selection.filter_params(filterset),
    }


@login_required
def queue_page(request):
    """
    List the unresolved interventions grouped by therapist and operation, oldest first.

    Without the log (docs/rules.md §1 allows a platform that has none yet), or while the
    platform database is unavailable, say so and show what opsdash's own database
    knows: the latest snapshot's count, and the drill-downs of the logged problems.
    """
    try:
        context = guard.platform(_queue_context, request)
    except guard.Unavailable as exc:
        context = {"unavailable": str(exc), "snapshot": MetricSnapshot.objects.order_by("-taken_at").first()}
    context["logged_problems"] = queue.LOGGED_LINK_PROBLEMS
    if request.htmx and not request.htmx.boosted:
        return render(request, "interventions/partials/queue_results.html", context)
    return render(request, "interventions/queue.html", context)


@login_required
def items(request):
    """Render every intervention of one therapist and operation with its details, for the side panel."""
    entity_id = request.GET.get("entity_id") or None
    operation = request.GET.get("operation", "")
    items = (
        queue.group_items(entity_id, operation)
        if entity_id
        else Intervention.objects.filter(entity_id__isnull=True, operation=operation)
    )
    found = guard.platform(lambda: list(items[:100]) if intervention_log_exists() else [])
    return render(
        request,
        "interventions/partials/items.html",
        {"entity_id": entity_id, "operation": operation, "items": found},
    )


def _act(request, action, interventions, note):
    """Run one action on the interventions; report failures as messages; return how many it acted on."""
    if action == "resolve":
        return actions.resolve(interventions, request.user, note)
    if action == "note":
        return actions.annotate(interventions, request.user, note)
    jobs, errors = actions.retry(interventions, request.user)
    for entity_id, error in errors:
        messages.error(request, f"{entity_id or 'No entity'}: not retried. {error}")
    return len(jobs)


def _done(action, n):
    return DONE[action].format(n=n, s=("" if n == 1 else "es" if action == "retry" else "s"))


@login_required
@permission_required(RESOLVE_PERMISSION, raise_exception=True)
@require_POST
def group_action(request):
    """Resolve, annotate or retry one group (therapist and operation) or the listed items."""
    form = GroupActionForm(request.POST)
    if not form.is_valid():
        for error in form.errors.get("__all__", []) + [
            e for f, errs in form.errors.items() if f != "__all__" for e in errs
        ]:
            messages.error(request, error)
        return _back(request)
    data = form.cleaned_data
    if data["action"] == "retry" and not request.user.has_perm(RUN_JOBS):
        raise PermissionDenied
    if data["ids"]:
        interventions = queue.unresolved().filter(id__in=data["ids"])
    else:
        interventions = queue.unresolved().filter(operation=data["operation"], entity_id=data["entity_id"] or None)
    n = _act(request, data["action"], interventions, data["note"].strip())
    messages.success(request, _done(data["action"], n))
    return _back(request)


@login_required
@permission_required(RESOLVE_PERMISSION, raise_exception=True)
@require_POST
def bulk_action(request):
    """
    Act on every open intervention the queue's current filter selects, in two steps.

    1. Without ``confirmed``: validate the filter (refused if invalid), count what it
       selects now and ask to confirm, naming that count; the page pins the selection.
    2. With it: act on exactly the pinned interventions, or on none, saying why, when
       they are no longer what the filter selects (interventions.selection).
    """
    form = BulkActionForm(request.POST)
    if not form.is_valid():
        for error in form.non_field_errors():
            messages.error(request, error)
        return _back(request)
    data = form.cleaned_data
    if data["action"] == "retry" and not request.user.has_perm(RUN_JOBS):
        raise PermissionDenied
    try:
        if not data["confirmed"] or not data["selection"]:
            return _confirm(request, data, selection.select(request.POST))
        selected = selection.pinned(data["selection"])
    except selection.SelectionError as exc:
        messages.error(request, str(exc))
        return _back(request)
    n = _act(request, data["action"], selected.interventions(), data["note"].strip())
    messages.success(request, _done(data["action"], n))
    return _back(request)


def _confirm(request, data, selected):
    """Render the confirmation of a bulk action: what it acts on, counted now, pinned in its form."""
    interventions = selected.interventions()
    return render(
        request,
        "interventions/confirm_bulk.html",
        {
            "filter_params": selected.params,
            "selection": selected.token,
            "action": data["action"],
            "note": data["note"],
            "as_of": selected.as_of,
            "count": selected.count,
            "groups": queue.groups(interventions).count(),
            "therapists": interventions.order_by().values("entity_id").distinct().count(),
            "next": request.POST.get("next", ""),
        },
    )
