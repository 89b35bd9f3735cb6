"""
Time the dashboard's pages at scale: the overview and the drill-down above all.

    python bench/pages.py [--therapists 1000000] [--drift 0.1] [--reuse] [--requests 20]

Runs against PLATFORM_DATABASE_URL, which it empties and seeds with seed_platform
(--reuse keeps what is there when it already has that many therapists), and against
DATABASE_URL, which it migrates and where it adds a week of metric snapshots and a
user "bench-operator". Never point either at a production database.

1. Take a snapshot as Celery beat does: compute_metrics() and the refresh of the
   drill-down table (TherapistResult), each timed.
2. Request each page through Django's test client (the whole stack but the network:
   middleware, session, queries, templates) a number of times; print the median,
   95th percentile and slowest time.
"""

import argparse
import os
import secrets
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsdash.settings")
# A benchmark signs nothing that outlives it: any key will do (the settings require one).
os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
# The test client's host.
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.checks import therapist_count, timed  # noqa: E402
from consistency.engine.checks import compute_metrics  # noqa: E402
from consistency.models import MetricSnapshot, TherapistResult  # noqa: E402
from consistency.platform.seed import seed_platform  # noqa: E402
from consistency.reporting.results import refresh_results  # noqa: E402
from consistency.reporting.snapshots import after_repair, take_snapshot  # noqa: E402


def a_week_of_snapshots(latest):
    """Add a snapshot every five minutes for the past week, like Celery beat's, for the trends page."""
    MetricSnapshot.objects.exclude(pk=latest.pk).delete()
    now = timezone.now()
    MetricSnapshot.objects.bulk_create(
        MetricSnapshot(
            taken_at=now - timedelta(minutes=5 * n),
            therapists=latest.therapists,
            consistent=latest.consistent,
            inconsistent=latest.inconsistent,
            link_problems=latest.link_problems,
            unresolved_interventions=latest.unresolved_interventions,
        )
        for n in range(1, 7 * 24 * 12)
    )


def bench_client():
    user, _ = User.objects.get_or_create(username="bench-operator")
    user.groups.add(Group.objects.get(name="Operators"))
    client = Client()
    client.force_login(user)
    return client


def time_requests(client, label, url, requests, headers=None):
    """Request ``url`` ``requests`` times; print the median, 95th percentile and slowest."""
    times = []
    for _ in range(requests):
        started = time.monotonic()
        response = client.get(url, headers=headers or {})
        if response.streaming:
            b"".join(response.streaming_content)
        times.append(1000 * (time.monotonic() - started))
        assert response.status_code == 200, (url, response.status_code)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    print(f"| {label} | `{url}` | {statistics.median(times):.0f} ms | {p95:.0f} ms | {times[-1]:.0f} ms |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--therapists", type=int, default=1_000_000)
    parser.add_argument("--drift", type=float, default=0.1)
    parser.add_argument("--reuse", action="store_true", help="keep the platform data when the count matches")
    parser.add_argument("--requests", type=int, default=20, help="requests per page")
    args = parser.parse_args()

    print(
        f"Platform database: {settings.DATABASES['platform']['NAME']}; opsdash database: {settings.DATABASES['default']['NAME']}\n"
    )
    call_command("migrate", verbosity=0)
    print("| step | time |\n|---|---|")
    if not (args.reuse and therapist_count() == args.therapists):
        timed(f"seed_platform --therapists {args.therapists}", seed_platform, args.therapists, args.drift, replace=True)
        TherapistResult.objects.all().delete()
    timed("compute_metrics() of every therapist", compute_metrics)
    timed("refresh of the drill-down table, everyone (first time: all rows new)", refresh_results)
    timed("refresh of the drill-down table, everyone (nothing changed)", refresh_results)
    snapshot = timed("take_snapshot(): metrics and refresh, as Celery beat runs it", take_snapshot)
    one = TherapistResult.objects.filter(bio_ok=False).order_by("norm_email").first()
    timed("after_repair(therapist_ids=[one]): refresh after a resync", after_repair, therapist_ids=[one.therapist_id])
    a_week_of_snapshots(snapshot)
    failing = TherapistResult.objects.count()
    print(
        f"\n{snapshot.therapists} therapists, {snapshot.consistent} consistent, {failing} rows in the drill-down table\n"
    )

    client = bench_client()
    n = args.requests
    htmx = {"HX-Request": "true"}
    bio = reverse("consistency:drilldown", args=["bio"])
    print("| page | URL | median | p95 | slowest |\n|---|---|---|---|---|")
    time_requests(client, "overview", reverse("consistency:overview"), n)
    time_requests(client, "overview, live fragment (htmx)", reverse("consistency:overview_live") + "?every=15", n, htmx)
    time_requests(client, "trends, 7 days (2,016 snapshots)", reverse("consistency:trends"), n)
    time_requests(client, "drill-down bio, first page", bio, n)
    time_requests(client, "drill-down bio, page 100 (htmx)", bio + "?page=100", n, htmx)
    time_requests(client, "drill-down bio, sorted by inconsistent since", bio + "?sort=-failing_since", n)
    time_requests(client, "drill-down bio, email filter matching many", bio + "?email=yahoo", n, htmx)
    time_requests(client, "drill-down bio, email filter matching few", bio + f"?email={one.norm_email[:12]}", n, htmx)
    time_requests(client, "drill-down bio, status filter", bio + "?status=pending", n, htmx)
    time_requests(
        client, "drill-down specializations, first page", reverse("consistency:drilldown", args=["specializations"]), n
    )
    time_requests(
        client, "drill-down missing profile, first page", reverse("consistency:drilldown", args=["missing_profile"]), n
    )
    time_requests(client, "drill-down bio, CSV export of every row", bio + "?_export=csv", max(1, n // 10))
    time_requests(client, "therapist page", reverse("consistency:therapist") + f"?email={one.norm_email}", n)
    time_requests(client, "intervention queue", reverse("interventions:queue"), n)
    time_requests(client, "jobs", reverse("consistency:jobs"), n)


if __name__ == "__main__":
    main()
