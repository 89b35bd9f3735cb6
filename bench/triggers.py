"""
Time single-row UPDATEs on the platform tables with and without the safety-net triggers.

    python bench/triggers.py [--therapists 1000000] [--updates 100000] [--rounds 4]
                              [--unindexed-updates 200] [--keep]

1. Create a throw-away database (PLATFORM_DATABASE_URL's name + "_bench", or
   OPSDASH_BENCH_DATABASE_URL; its name must end in "_bench"), create the platform
   tables from the shipped SQL and seed them with one set-based INSERT.
2. Run the same mix of UPDATEs, each its own statement and its own transaction,
   without the triggers and with them, alternating over --rounds; then with them but
   without their two indexes (a smaller sample: every such update scans a table).
3. Check that the triggers did their work, print a Markdown table, drop the database
   (unless --keep).

The mix, a quarter each, on distinct therapists: a new avatar on users (writes the
enrollment and the profile), a new bio on the enrollment (writes the profile), an
approval or rejection (writes profile and user), and a sign-in stamp on users (a column
no trigger watches: what most UPDATEs of users look like). synchronous_commit is off
in the benchmark session, so that the figure is the triggers' work and not the disk's
flush latency.
"""

import argparse
import os
import random
import secrets
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED = """
with therapist as (
    select i, gen_random_uuid() as id from generate_series(1, %(therapists)s) i
),
therapist_user as (
    -- Every fifth therapist signed in with an email in another case (docs/rules.md §1).
    insert into users (id, email, full_name, user_type, is_verified)
    select id,
           case when i %% 5 = 0 then format(' Therapist%%s@Example.com', i) else format('therapist%%s@example.com', i) end,
           format('Therapist %%s', i), 'therapist', true
    from therapist
),
client as (
    insert into users (email, full_name, user_type, is_verified)
    select format('client%%s@example.com', i), format('Client %%s', i), 'individual', true
    from generate_series(1, %(therapists)s) i
),
enrollment as (
    -- ... and their enrollment is unlinked (user_id NULL), found by normalised email.
    insert into therapist_enrollments (user_id, email, full_name, bio, experience_years,
                                       specializations, status, updated_at)
    select case when i %% 5 = 0 then null else id end, format('therapist%%s@example.com', i),
           format('Therapist %%s', i), 'Helps with anxiety.', 5, array['Anxiety', 'CBT'], 'approved',
           now() - interval '1 day'
    from therapist
),
duplicate as (
    -- Every twentieth has an older abandoned duplicate.
    insert into therapist_enrollments (user_id, email, full_name, status, updated_at)
    select null, format('therapist%%s@example.com', i), format('Therapist %%s', i), 'pending',
           now() - interval '30 days'
    from therapist where i %% 20 = 0
)
insert into therapist_profiles (user_id, licensed_qualification, bio, experience_years, specializations,
                                verification_status, is_verified)
select id, 'MSc Psychology', 'Helps with anxiety.', 5, array['Anxiety', 'CBT'], 'approved', true
from therapist
"""

# Each therapist with its canonical enrollment, as the seed made them: the approved
# one, linked by user_id or (every fifth) by normalised email.
TARGETS = """
select u.id, e.id
from users u join therapist_enrollments e on e.user_id = u.id
where u.user_type = 'therapist'
union all
select u.id, e.id
from users u join therapist_enrollments e on e.user_id is null and lower(btrim(e.email)) = lower(btrim(u.email))
where u.user_type = 'therapist' and e.status = 'approved'
"""

# Each statement takes its values, then the row's id.
STATEMENTS = {
    "avatar on users": "update users set avatar_url = %s where id = %s",
    "bio on enrollments": "update therapist_enrollments set bio = %s where id = %s",
    # Always a change, so that the trigger has something to propagate.
    "status on enrollments": (
        "update therapist_enrollments set status = case status when 'approved' then 'rejected' else 'approved' end"
        " where id = %s"
    ),
    "sign-in on users": "update users set last_login_at = now() where id = %s",
}
KINDS = tuple(STATEMENTS)
# The check each kind of update must leave passing when the triggers are on.
CHECK_OF_KIND = {
    "avatar on users": "avatar_ok",
    "bio on enrollments": "bio_ok",
    "status on enrollments": "verification_ok",
}


def bench_database_url():
    url = os.environ.get("OPSDASH_BENCH_DATABASE_URL")
    if not url:
        platform = urlsplit(
            os.environ.get("PLATFORM_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/opsdash_platform")
        )
        url = urlunsplit(platform._replace(path=platform.path + "_bench"))
    if not urlsplit(url).path.endswith("_bench"):
        sys.exit(f"refusing to use {url}: the benchmark drops its database, whose name must end in _bench")
    return url


def _drop_database(url, create_again):
    name = urlsplit(url).path.lstrip("/")
    maintenance = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(name)))
        if create_again:
            connection.execute(sql.SQL("create database {}").format(sql.Identifier(name)))


def recreate_database(url):
    """Drop and create the benchmark database, from the server's maintenance database."""
    _drop_database(url, create_again=True)


def drop_database(url):
    """Drop the benchmark database."""
    _drop_database(url, create_again=False)


def seed(connection, therapists):
    started = time.perf_counter()
    with connection.transaction():
        connection.execute(SEED, {"therapists": therapists})
    connection.execute("analyze users, therapist_enrollments, therapist_profiles")
    return time.perf_counter() - started


@dataclass(slots=True)
class Update:
    """One planned UPDATE: its kind, its parameters, and the therapist it concerns."""

    kind: str
    params: tuple
    user_id: object


def plan_updates(targets, count, tag, rng):
    """Return count updates in random order, a quarter of each kind, each on another therapist."""
    targets = rng.sample(targets, len(targets))
    per_kind = count // len(KINDS)
    if per_kind * len(KINDS) > len(targets):
        sys.exit(f"{count} updates need {per_kind * len(KINDS)} therapists; seed more with --therapists")
    plan = []
    for k, kind in enumerate(KINDS):
        for n, (user_id, enrollment_id) in enumerate(targets[k * per_kind : (k + 1) * per_kind]):
            params = {
                "avatar on users": (f"https://cdn.example.com/{tag}/{n}.png", user_id),
                "bio on enrollments": (f"Bio {tag} {n}.", enrollment_id),
                "status on enrollments": (enrollment_id,),
                "sign-in on users": (user_id,),
            }[kind]
            plan.append(Update(kind, params, user_id))
    rng.shuffle(plan)
    return plan


def run_updates(connection, plan):
    """Run each update as its own statement in its own transaction; return (seconds, count) per kind."""
    seconds = dict.fromkeys(KINDS, 0.0)
    counts = dict.fromkeys(KINDS, 0)
    with connection.cursor() as cursor:
        for update in plan:
            started = time.perf_counter()
            cursor.execute(STATEMENTS[update.kind], update.params, prepare=True)
            seconds[update.kind] += time.perf_counter() - started
            counts[update.kind] += 1
    return seconds, counts


def check_the_triggers_worked(plan, per_kind=200):
    """Fail unless a sample of the therapists updated with the triggers on pass the check of their update."""
    from consistency.engine.checks import states_for_ids

    for kind, check in CHECK_OF_KIND.items():
        user_ids = [update.user_id for update in plan if update.kind == kind][:per_kind]
        failing = [state.therapist_id for state in states_for_ids(user_ids) if not state.row[check]]
        if failing:
            sys.exit(f"the triggers did not propagate {kind}: {len(failing)} of {len(user_ids)} sampled fail {check}")


@dataclass
class Totals:
    """Seconds and counts per kind of update, summed over rounds."""

    seconds: dict = field(default_factory=lambda: dict.fromkeys(KINDS, 0.0))
    counts: dict = field(default_factory=lambda: dict.fromkeys(KINDS, 0))

    def add(self, result):
        seconds, counts = result
        for kind in KINDS:
            self.seconds[kind] += seconds[kind]
            self.counts[kind] += counts[kind]


def microseconds(seconds, count):
    return f"{1e6 * seconds / count:,.0f}" if count else "-"


def measure(connection, targets, args, rng):
    """
    Time the updates; return the totals per configuration and the install/rollback times.

    1. Warm the caches and the prepared statements (not timed).
    2. Alternate "without" and "with" over the rounds, so that a change in the
       machine's load (it may be shared) weighs on both alike.
    3. Drop the two indexes and time a small sample with the triggers alone.
    """
    from django.db import connections

    from consistency.safety_net import service as safety_net
    from opsdash.db import PLATFORM_DB

    def platform_call(function):
        # Run on Django's connection, then close it: the benchmark's own stays alone.
        started = time.perf_counter()
        function()
        connections[PLATFORM_DB].close()
        return time.perf_counter() - started

    run_updates(connection, plan_updates(targets, min(args.updates, 8000), 0, rng))

    results = {"without triggers": Totals(), "with triggers": Totals()}
    install_seconds = []
    per_round = args.updates // args.rounds
    for round_number in range(args.rounds):
        tag = 2 * round_number + 1
        results["without triggers"].add(run_updates(connection, plan_updates(targets, per_round, tag, rng)))
        install_seconds.append(platform_call(safety_net.install))
        plan = plan_updates(targets, per_round, tag + 1, rng)
        results["with triggers"].add(run_updates(connection, plan))
        check_the_triggers_worked(plan)
        if round_number < args.rounds - 1:
            platform_call(safety_net.rollback)
        print(f"round {round_number + 1} of {args.rounds} done", flush=True)

    if args.unindexed_updates:
        connection.execute("drop index opsdash_users_therapist_email_idx, opsdash_enrollments_unlinked_email_idx")
        plan = plan_updates(targets, args.unindexed_updates, 2 * args.rounds + 1, rng)
        results["with triggers, without their indexes"] = Totals()
        results["with triggers, without their indexes"].add(run_updates(connection, plan))
    rollback_seconds = platform_call(safety_net.rollback)
    return results, statistics.median(install_seconds), rollback_seconds


def print_report(results, install_seconds, rollback_seconds, notes):
    """Print the Markdown table of µs per update, then how it was measured."""
    header = ["", *KINDS, "all", "total s"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for label, totals in results.items():
        total_count = sum(totals.counts.values())
        total_seconds = sum(totals.seconds.values())
        cells = [microseconds(totals.seconds[kind], totals.counts[kind]) for kind in KINDS]
        print(
            f"| {label} ({total_count:,} updates) | "
            + " | ".join(cells)
            + f" | {microseconds(total_seconds, total_count)} | {total_seconds:.1f} |"
        )
    print()
    print("µs per UPDATE (mean); each UPDATE its own statement and transaction.")
    print(f"install {install_seconds:.2f} s (median, both indexes built), rollback {rollback_seconds:.2f} s; {notes}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--therapists", type=int, default=1_000_000)
    parser.add_argument("--updates", type=int, default=100_000, help="updates per configuration")
    parser.add_argument("--rounds", type=int, default=4, help="alternations of the two configurations")
    parser.add_argument(
        "--unindexed-updates",
        type=int,
        default=200,
        help="updates timed with the triggers but without their indexes (0 to skip)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    url = bench_database_url()
    os.environ["PLATFORM_DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsdash.settings")
    # A benchmark signs nothing that outlives it: any key will do (the settings require one).
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    import django

    django.setup()
    from django.db import connections

    from consistency.platform.schema import create_platform_tables
    from opsdash.db import PLATFORM_DB

    rng = random.Random(20251020)
    print(f"Benchmark database {urlsplit(url).path.lstrip('/')}: {args.therapists:,} therapists", flush=True)
    load_before = os.getloadavg()[0]
    recreate_database(url)
    try:
        create_platform_tables()
        connections[PLATFORM_DB].close()
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("set synchronous_commit = off")
            version = connection.info.server_version
            print(f"seeded in {seed(connection, args.therapists):.1f} s", flush=True)
            targets = connection.execute(TARGETS).fetchall()
            results, install_seconds, rollback_seconds = measure(connection, targets, args, rng)
    finally:
        connections.close_all()
        if not args.keep:
            drop_database(url)

    print()
    print_report(
        results,
        install_seconds,
        rollback_seconds,
        f"PostgreSQL {version // 10000}.{version % 100}, load average {load_before:.1f} before"
        f" and {os.getloadavg()[0]:.1f} after on {os.cpu_count()} CPUs",
    )


if __name__ == "__main__":
    main()
