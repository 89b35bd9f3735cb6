"""
Time the checks engine: seeding, the metrics of everyone, one chunk and one therapist.

    python bench/checks.py [--therapists 1000000] [--drift 0.1] [--reuse] [--repeat N]

Runs against PLATFORM_DATABASE_URL, which it empties and seeds with seed_platform
(--reuse keeps what is there when it already has that many therapists). Never point
it at a production database. With --repeat, each step runs N times and the best and
the median are shown: on a shared machine the best is the steadier figure.
"""

import argparse
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsdash.settings")
# A benchmark signs nothing that outlives it: any key will do (the settings require one).
os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connections  # noqa: E402

from consistency.engine import checks  # noqa: E402
from consistency.platform.seed import seed_platform  # noqa: E402
from opsdash.db import PLATFORM_DB  # noqa: E402


def timed(label, func, *args, repeat=1, **kwargs):
    """Run ``func`` ``repeat`` times, print a table row with its times, return its result."""
    seconds = []
    for _ in range(repeat):
        started = time.monotonic()
        result = func(*args, **kwargs)
        seconds.append(time.monotonic() - started)
    if repeat == 1:
        print(f"| {label} | {seconds[0]:.2f} s |", flush=True)
    else:
        print(f"| {label} | {min(seconds):.2f} s | {statistics.median(seconds):.2f} s |", flush=True)
    return result


def therapist_count():
    with connections[PLATFORM_DB].cursor() as cursor:
        cursor.execute("select count(*) from users where user_type = 'therapist'")
        return cursor.fetchone()[0]


def chunk_bounds(size):
    """Return the (after, upto) ids of the first chunk of ``size`` therapists."""
    with connections[PLATFORM_DB].cursor() as cursor:
        cursor.execute("select id from users where user_type = 'therapist' order by id offset %s limit 1", [size - 1])
        return "00000000-0000-0000-0000-000000000000", str(cursor.fetchone()[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--therapists", type=int, default=1_000_000)
    parser.add_argument("--drift", type=float, default=0.1)
    parser.add_argument("--reuse", action="store_true", help="keep the data when the count matches")
    parser.add_argument("--repeat", type=int, default=1, help="run each step N times (best and median)")
    args = parser.parse_args()
    repeat = max(args.repeat, 1)

    print(f"Platform database: {settings.DATABASES['platform']['NAME']}")
    if not (args.reuse and therapist_count() == args.therapists):
        started = time.monotonic()
        seed_platform(args.therapists, args.drift, replace=True)
        print(f"Seeded {args.therapists} therapists in {time.monotonic() - started:.1f} s")
    print("\n| step | time |\n|---|---|" if repeat == 1 else "\n| step | best | median |\n|---|---|---|")
    metrics = timed("metrics of every therapist (consistency_report)", checks.compute_metrics, repeat=repeat)
    size = settings.OPSDASH_REPAIR_CHUNK_SIZE
    after, upto = chunk_bounds(size)
    chunk = {"after": after, "upto": upto}
    timed(f"state of one chunk of {size} therapists", checks.therapist_states, checks.BY_ID_RANGE, chunk, repeat=repeat)
    with connections[PLATFORM_DB].cursor() as cursor:
        cursor.execute("select id from users where user_type = 'therapist' and id > %s and id <= %s", [after, upto])
        chunk_ids = [row[0] for row in cursor.fetchall()]
    timed(f"state of the same {size} therapists, by id list", checks.states_for_ids, chunk_ids, repeat=repeat)
    with connections[PLATFORM_DB].cursor() as cursor:
        cursor.execute("select id, email from users where user_type = 'therapist' order by id desc limit 1")
        therapist_id, email = cursor.fetchone()
    timed("state of one therapist, by email", checks.states_for_email, email, repeat=repeat)
    timed("state of one therapist, by id", checks.states_for_ids, [therapist_id], repeat=repeat)
    print(f"\n{metrics['therapists']} therapists, {metrics['consistent']} consistent")


if __name__ == "__main__":
    main()
