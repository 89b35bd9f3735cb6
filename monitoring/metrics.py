"""
Prometheus metrics of opsdash, read from the latest snapshot and opsdash's own tables.

Nothing here computes the metrics of the platform: at a million therapists that takes
tens of seconds, and a scrape comes every 15 s. A scrape reads one snapshot row, a
GROUP BY over the job runs, and the cached answers of the workers' ping and of the
oldest unresolved intervention.
"""

from django.core.cache import cache
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily

from consistency.catalogue import CHECK_NAMES, LINK_PROBLEM_NAMES
from consistency.models import JobKind, JobRun, JobState, MetricSnapshot
from interventions.queue import unresolved
from interventions.schema import intervention_log_exists

from . import health

OLDEST_KEY = "opsdash:metrics:oldest-unresolved"
OLDEST_CACHE_SECONDS = 60
MISSING = object()


def _gauge(name, documentation, value=None, labels=()):
    family = GaugeMetricFamily(name, documentation, labels=list(labels) or None)
    if value is not None:
        family.add_metric([], value)
    return family


class OpsdashCollector:
    """Yield opsdash's gauges at each scrape."""

    def collect(self):
        yield from self._snapshot()
        yield from self._interventions()
        yield from self._jobs()
        names = health.workers()
        yield _gauge("opsdash_workers_online", "Workers consuming opsdash's queue (cached ping).", len(names or []))
        length = health.queue_length()
        if length is not None:
            yield _gauge("opsdash_queue_length", "Tasks waiting in opsdash's Celery queue.", length)

    def _snapshot(self):
        snapshot = MetricSnapshot.objects.order_by("-taken_at").first()
        if snapshot is None:
            return
        yield _gauge("opsdash_therapists", "Therapists in the latest snapshot.", snapshot.therapists)
        yield _gauge("opsdash_consistent_therapists", "Therapists passing every check.", snapshot.consistent)
        checks = _gauge("opsdash_inconsistent_therapists", "Therapists failing each check.", labels=["check"])
        for check in CHECK_NAMES:
            checks.add_metric([check], snapshot.inconsistent.get(check, 0))
        yield checks
        problems = _gauge(
            "opsdash_link_problems", "Link problems per kind (docs/rules.md §7 units).", labels=["problem"]
        )
        for problem in LINK_PROBLEM_NAMES:
            problems.add_metric([problem], snapshot.link_problems.get(problem, 0))
        yield problems
        if snapshot.unresolved_interventions is not None:
            yield _gauge(
                "opsdash_unresolved_interventions",
                "Unresolved interventions at the snapshot.",
                snapshot.unresolved_interventions,
            )
        age = (timezone.now() - snapshot.taken_at).total_seconds()
        yield _gauge("opsdash_snapshot_age_seconds", "Age of the latest snapshot.", age)
        yield _gauge("opsdash_snapshot_duration_seconds", "Time the latest snapshot took.", snapshot.duration_ms / 1000)

    def _interventions(self):
        oldest = cache.get(OLDEST_KEY, MISSING)
        if oldest is MISSING:
            oldest = _oldest_unresolved()
            cache.set(OLDEST_KEY, oldest, OLDEST_CACHE_SECONDS)
        if oldest is None:
            return
        age = (timezone.now() - oldest).total_seconds() if oldest else 0
        yield _gauge(
            "opsdash_oldest_unresolved_intervention_age_seconds", "Age of the oldest unresolved intervention.", age
        )

    def _jobs(self):
        counts = {(kind, state): 0 for kind in JobKind.values for state in JobState.values}
        for row in JobRun.objects.order_by().values("kind", "state").annotate(n=Count("id")):
            counts[(row["kind"], row["state"])] = row["n"]
        jobs = _gauge("opsdash_jobs", "Job runs by kind and state.", labels=["kind", "state"])
        for (kind, state), n in counts.items():
            jobs.add_metric([kind, state], n)
        yield jobs
        last = (
            JobRun.objects.filter(
                kind=JobKind.REPAIR_ALL, dry_run=False, finished_at__isnull=False, started_at__isnull=False
            )
            .order_by("-finished_at")
            .first()
        )
        if last:
            yield _gauge(
                "opsdash_last_repair_all_duration_seconds",
                "Duration of the last repair-all.",
                last.duration.total_seconds(),
            )
            rows = sum(sum(columns.values()) for columns in (last.rows_changed or {}).values())
            yield _gauge("opsdash_last_repair_all_rows_changed", "Values the last repair-all changed.", rows)


def _oldest_unresolved():
    """
    Return when the oldest unresolved intervention was logged (False: none; None: no log table).

    Unresolved includes resolved IS NULL (rows the platform wrote by hand), which the
    log's partial index on resolved = false does not cover: the query scans the log
    (50 ms at 100,000 rows), so its answer is cached OLDEST_CACHE_SECONDS; the age
    is still computed at each scrape.
    """
    if not intervention_log_exists():
        return None
    return unresolved().aggregate(oldest=Min("timestamp"))["oldest"] or False


registry = CollectorRegistry(auto_describe=False)
registry.register(OpsdashCollector())
