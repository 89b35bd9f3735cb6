"""Turn a job run's recorded outcome into the rows its page shows."""

from .checks import CHECKS, LINK_PROBLEMS


def changed_columns(job):
    """Return (table, column, rows) for every column the job changed, or would change in a dry run."""
    return [
        (table, column, count)
        for table, columns in sorted((job.rows_changed or {}).items())
        for column, count in sorted(columns.items())
    ]


def metric_changes(job):
    """Return, per check and link problem, the count before and after the job and the difference."""
    before, after = job.metrics_before or {}, job.metrics_after or {}
    if not before and not after:
        return []
    rows = [_row("consistent", before.get("consistent"), after.get("consistent"))]
    rows += [_row(c, before.get("inconsistent", {}).get(c), after.get("inconsistent", {}).get(c)) for c in CHECKS]
    rows += [_row(p, before.get("link_problems", {}).get(p), after.get("link_problems", {}).get(p)) for p in LINK_PROBLEMS]
    rows.append(_row("unresolved_interventions", before.get("unresolved_interventions"), after.get("unresolved_interventions")))
    return rows


def _row(name, before, after):
    delta = after - before if before is not None and after is not None else None
    return {"name": name, "before": before, "after": after, "delta": delta}
