"""Turn a job run's recorded outcome into the rows its page shows."""

from typing import Any

from django.db import connection, transaction

from consistency.catalogue import CHECK_NAMES, LINK_PROBLEM_NAMES
from consistency.models import JobEvent, JobRun


def read_job(pk: int) -> tuple[JobRun | None, list[JobEvent]]:
    """
    Return a job and its states as of one instant, or None when there is no such job.

    A worker moves the job and records the state in one transaction; reading both in
    one REPEATABLE READ snapshot keeps the page's badge and its list of states in
    agreement, where two reads could fall either side of a change. (Inside a
    transaction already begun, as in the tests, that transaction's own view holds.)
    """
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:
            with connection.cursor() as cursor:
                cursor.execute("set transaction isolation level repeatable read")
        job = JobRun.objects.select_related("requested_by").filter(pk=pk).first()
        events = list(job.events.all()) if job else []
    return job, events


def changed_columns(job: JobRun) -> list[tuple[str, str, int]]:
    """Return (table, column, rows) for every column the job changed, or would change in a dry run; not the 0s."""
    return [
        (table, column, count)
        for table, columns in sorted((job.rows_changed or {}).items())
        for column, count in sorted(columns.items())
        if count
    ]


def metric_changes(job: JobRun) -> list[dict[str, Any]]:
    """Return, per check and link problem, the count before and after the job and the difference."""
    before, after = job.metrics_before or {}, job.metrics_after or {}
    if not before and not after:
        return []
    rows = [_row("consistent", before.get("consistent"), after.get("consistent"))]
    rows += [_row(c, before.get("inconsistent", {}).get(c), after.get("inconsistent", {}).get(c)) for c in CHECK_NAMES]
    rows += [
        _row(p, before.get("link_problems", {}).get(p), after.get("link_problems", {}).get(p))
        for p in LINK_PROBLEM_NAMES
    ]
    rows.append(
        _row("unresolved_interventions", before.get("unresolved_interventions"), after.get("unresolved_interventions"))
    )
    return rows


def _row(name, before, after):
    delta = after - before if before is not None and after is not None else None
    return {"name": name, "before": before, "after": after, "delta": delta}
