"""
Time what other systems call: /metrics, /readyz, /healthz, the API, the overview's health strip.

    python bench/integrations.py [--requests 50] [--interventions 100000] [--jobs 10000]

Against DATABASE_URL and PLATFORM_DATABASE_URL (never production ones): adds a year of
snapshots every five minutes (105,120, the latest saying 1,000,000 therapists), --jobs
job runs and --interventions rows of manual_intervention_log (half resolved), times
each endpoint with Django's test client, then deletes what it added.

A scrape reads the latest snapshot, never the platform's therapists, so its time does
not grow with them; it grows with the job runs (one GROUP BY) and the unresolved
interventions (the oldest one, through the log's partial index). The workers' ping is
cached (OPSDASH_WORKER_CACHE_SECONDS): the first request pays it, then the others do not.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsdash.settings")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
os.environ.setdefault("OPSDASH_METRICS_TOKEN", "bench-token")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.pages import bench_client, time_requests  # noqa: E402
from consistency.catalogue import CHECK_NAMES, LINK_PROBLEM_NAMES  # noqa: E402
from consistency.models import JobKind, JobRun, JobState, MetricSnapshot  # noqa: E402
from interventions.schema import ensure_intervention_log  # noqa: E402
from opsdash.db import PLATFORM_DB  # noqa: E402

BENCH_OPERATION = "bench-integrations"


def add_history(jobs, interventions):
    """Add the snapshots, job runs and interventions; return the first ids added, to delete them after."""
    now = timezone.now()
    first_snapshot = MetricSnapshot.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    MetricSnapshot.objects.bulk_create(
        (
            MetricSnapshot(
                taken_at=now - timedelta(minutes=5 * n),
                therapists=1_000_000,
                consistent=900_000,
                inconsistent={c: 10_000 for c in CHECK_NAMES},
                link_problems={p: 100 for p in LINK_PROBLEM_NAMES},
                unresolved_interventions=interventions // 2,
                duration_ms=30_000,
            )
            for n in range(365 * 24 * 12)
        ),
        batch_size=5000,
    )
    first_job = JobRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    states = list(JobState)
    JobRun.objects.bulk_create(
        (
            JobRun(
                kind=JobKind.RESYNC if n % 10 else JobKind.REPAIR_ALL,
                state=states[2 + n % 4],  # finished states only: one repair-all at a time
                started_at=now - timedelta(minutes=n + 1),
                finished_at=now - timedelta(minutes=n),
                rows_changed={"users": {"full_name": n % 7}},
            )
            for n in range(jobs)
        ),
        batch_size=5000,
    )
    ensure_intervention_log()
    with connections[PLATFORM_DB].cursor() as cursor:
        cursor.execute(
            "insert into manual_intervention_log (operation, entity_id, error, timestamp, resolved)"
            " select %s, 't' || n || '@example.com', 'bench', now() - n * interval '1 minute', n %% 2 = 0"
            " from generate_series(1, %s) n",
            [BENCH_OPERATION, interventions],
        )
        cursor.execute("analyze manual_intervention_log")
    return first_snapshot, first_job


def remove_history(first_snapshot, first_job):
    MetricSnapshot.objects.filter(pk__gt=first_snapshot).delete()
    JobRun.objects.filter(pk__gt=first_job).delete()
    with connections[PLATFORM_DB].cursor() as cursor:
        cursor.execute("delete from manual_intervention_log where operation = %s", [BENCH_OPERATION])


def time_readiness(requests):
    """Time /readyz, which answers 503 where no worker runs: print its status with the times."""
    client, times, statuses = Client(), [], set()
    for _ in range(requests):
        started = time.monotonic()
        statuses.add(client.get("/readyz").status_code)
        times.append(1000 * (time.monotonic() - started))
    times.sort()
    print(
        f"| readiness, every dependency side by side (status {sorted(statuses)}) | `/readyz` | "
        f"{statistics.median(times):.0f} ms | {times[round(0.95 * (len(times) - 1))]:.0f} ms | {times[-1]:.0f} ms |"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--interventions", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=10_000)
    args = parser.parse_args()

    print(
        f"Platform database: {settings.DATABASES['platform']['NAME']}; opsdash database: {settings.DATABASES['default']['NAME']}\n"
    )
    call_command("migrate", verbosity=0)
    added = add_history(args.jobs, args.interventions)
    try:
        operator = bench_client()  # signed in: the API takes its session as it takes a token
        n = args.requests
        scrape = {"Authorization": f"Bearer {settings.OPSDASH_METRICS_TOKEN}"}
        print(
            f"{MetricSnapshot.objects.count()} snapshots, {JobRun.objects.count()} job runs, {args.interventions} interventions\n"
        )
        print("| endpoint | URL | median | p95 | slowest |\n|---|---|---|---|---|")
        time_requests(Client(), "liveness", "/healthz", n)
        time_requests(Client(), "Prometheus scrape", "/metrics", n, scrape)
        time_requests(operator, "API: latest metrics", "/api/metrics/", n)
        time_requests(
            operator,
            "API: a day of snapshots",
            f"/api/snapshots/?since={(timezone.now() - timedelta(days=1)).isoformat().replace('+', '%2B')}",
            n,
        )
        time_requests(operator, "API: jobs, first page", "/api/jobs/", n)
        time_requests(
            operator,
            "overview, live fragment with the health strip",
            "/overview/live/?every=15",
            n,
            {"HX-Request": "true"},
        )
        time_readiness(max(1, n // 5))
    finally:
        remove_history(*added)


if __name__ == "__main__":
    main()
