"""
Read the intervention queue: unresolved interventions, grouped by therapist and operation.

An intervention is unresolved while ``resolved`` is not true (the column may be NULL
on rows the platform wrote by hand, docs/rules.md §1).
"""

from django.db.models import Count, Exists, Max, Min, OuterRef, Subquery

from consistency.catalogue import LINK_PROBLEMS
from interventions.schema import intervention_log_exists

from .models import Intervention

# The link problems a repair logs for a human (docs/rules.md §3), whose drill-downs list the
# same therapists from opsdash's own data while the log cannot be read.
LOGGED_LINK_PROBLEMS = tuple(p.name for p in LINK_PROBLEMS if p.drilldown and not p.repaired)


def unresolved():
    """Return the unresolved interventions, oldest first."""
    return Intervention.objects.exclude(resolved=True).order_by("timestamp")


def unresolved_count():
    """Return how many interventions are unresolved, or None where the platform has no log yet."""
    if not intervention_log_exists():
        return None
    return unresolved().count()


def groups(interventions):
    """
    Group interventions by therapist (entity_id) and operation, oldest first.

    Each group carries its count, first and last seen, the latest error, and whether
    it is a regression: the same problem of the same therapist was resolved before
    and has come back (docs/rules.md §4 logs it once while open, so any resolved row of the
    same operation and entity_id is an earlier occurrence).
    """
    same_problem = Intervention.objects.filter(entity_id=OuterRef("entity_id"), operation=OuterRef("operation"))
    latest = same_problem.exclude(resolved=True).order_by("-timestamp")
    return (
        interventions.order_by()
        .values("entity_id", "operation")
        .annotate(
            count=Count("id"),
            first_seen=Min("timestamp"),
            last_seen=Max("timestamp"),
            latest_error=Subquery(latest.values("error")[:1]),
            regression=Exists(same_problem.filter(resolved=True)),
        )
        .order_by("first_seen", "entity_id", "operation")
    )


def group_items(entity_id, operation):
    """Return every intervention of one therapist and operation, newest first, resolved ones too."""
    return Intervention.objects.filter(entity_id=entity_id, operation=operation).order_by("-timestamp")


def operations():
    """Return the operations that have unresolved interventions, for the filter's choices."""
    return list(unresolved().order_by("operation").values_list("operation", flat=True).distinct())
