"""
Repair-all, the checks and a snapshot beside the database's floor and the per-therapist
loop, on the same freshly built data, for one or more sizes.

    python bench/compare.py [--therapists 10000,100000,1000000] [--drift 0.1] [--repeat 3]
                            [--loop-sample 2000] [--guard-cost | --guard-only] [--reuse]
                            [--write-docs | --render]

For each size the data is seeded once (seed_platform) into PLATFORM_DATABASE_URL's
database and kept as a template database (its name + "_tmpl"); every measured run
starts from a fresh copy of it (CREATE DATABASE ... TEMPLATE), so every run sees the
same data. Each figure is the median of --repeat runs. Never point it at a production
database: it drops and recreates the platform database.

What runs, each on a fresh copy:
- the floor: opsdash's own rules (consistency/sql/repair_plan.sql over everyone, then
  repair_apply.sql: one set-based UPDATE per table) in one transaction, with none of
  the job's machinery (chunks, locks, intervention log, progress); its read alone is
  the plan statement counted;
- the per-therapist loop, as the platform's own script does it: per therapist one
  SELECT of its three rows and up to three UPDATEs, each therapist its own
  transaction, on a random sample of --loop-sample therapists, scaled to everyone;
- opsdash: `repair_consistency --sync` twice (the second run changes nothing), each in
  a process of its own under /usr/bin/time for its peak memory; `consistency_report
  --json` (the checks); a snapshot with its drill-down refresh;
- one therapist: the p95 of what the therapist page asks the platform (state, resync
  preview, interventions) over 40 therapists, without and then with the indexes
  `manage.py platform_setup` recommends;
- with --guard-cost, repair-all again without the lost-update locks, for their cost;
  with --guard-only, nothing but repair-all's first run with and then without them
  (not for --write-docs: the other figures would be missing);
- with --workers, repair-all's first run as the dashboard starts it, queued to a real
  Celery worker with one process and then with two (from the click to the job's end),
  on a queue of the benchmark's own; and the p95 of 20 resyncs of drifted therapists,
  from the request to the therapist showing consistent, on a warm worker.

It prints the table and the ratios; --write-docs also keeps the figures of each size in
docs/benchmarks-compare.json (a size measured again replaces its figures), writes the
table of every size kept into docs/benchmarks.md (between the "compare" markers) and,
for two sizes or more, draws the time per therapist against the number of therapists
to docs/benchmarks-growth.png.
"""

import argparse
import contextlib
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsdash.settings")

# Jobs queued by --workers go to a queue no other worker on this Redis consumes.
os.environ.setdefault("OPSDASH_CELERY_QUEUE", f"opsdash-bench-{os.getpid()}")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connections, transaction  # noqa: E402
from django.test import override_settings  # noqa: E402

from bench.repair import changed_values, manage  # noqa: E402
from consistency.engine import email_keys, repair  # noqa: E402
from consistency.engine.checks import ALL_THERAPISTS, PLATFORM_DB, apply_state_settings, states_for_email  # noqa: E402
from consistency.models import TherapistResult  # noqa: E402
from consistency.platform.seed import seed_platform  # noqa: E402
from consistency.platform.setup import create_recommended_indexes  # noqa: E402
from consistency.reporting.snapshots import take_snapshot  # noqa: E402
from consistency.reporting.therapists import timeline  # noqa: E402
from opsdash.timeouts import use_job_timeouts  # noqa: E402

# The floor and a snapshot of a large database take longer than a web request may.
use_job_timeouts()

DOCS = ROOT / "docs" / "benchmarks.md"
PLOT = ROOT / "docs" / "benchmarks-growth.png"
RESULTS = ROOT / "docs" / "benchmarks-compare.json"
BEGIN, END = "<!-- compare: begin -->", "<!-- compare: end -->"


# ------------------------------------------------------------------------------
# Fresh copies of the seeded data
# ------------------------------------------------------------------------------
def _maintenance():
    db = settings.DATABASES[PLATFORM_DB]
    return psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], password=db.get("PASSWORD") or None,
        dbname="postgres", autocommit=True, connect_timeout=10,
    )  # fmt: skip


def _names():
    name = settings.DATABASES[PLATFORM_DB]["NAME"]
    return name, f"{name}_tmpl"


def build(therapists, drift):
    """Seed the platform database and keep it as the template of every run."""
    started = time.monotonic()
    seed_platform(therapists, drift, replace=True)
    with connections[PLATFORM_DB].cursor() as cursor:
        cursor.execute("vacuum analyze")
    connections.close_all()
    name, template = _names()
    with _maintenance() as admin:
        admin.execute(f'drop database if exists "{template}" with (force)')
        admin.execute(f'create database "{template}" template "{name}"')
    return time.monotonic() - started


def fresh():
    """Replace the platform database with a fresh copy of the template; empty the drill-down table."""
    # The drill-down of another data set (an earlier size or run) would make the next
    # snapshot delete and vacuum its rows.
    TherapistResult.objects.all().delete()
    connections.close_all()
    name, template = _names()
    with _maintenance() as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')
        admin.execute(f'create database "{name}" template "{template}"')


def drop_template():
    with _maintenance() as admin:
        admin.execute(f'drop database if exists "{_names()[1]}" with (force)')


def load():
    """Return the 1-minute load average, which every figure is recorded with."""
    return os.getloadavg()[0]


# ------------------------------------------------------------------------------
# The yardsticks
# ------------------------------------------------------------------------------
def floor():
    """Run the floor; return (seconds of its read, seconds in all)."""
    with transaction.atomic(using=PLATFORM_DB), connections[PLATFORM_DB].cursor() as cursor:
        apply_state_settings(cursor, ALL_THERAPISTS)
        started = time.monotonic()
        # Every column computed, as the repair's plan table holds them (a bare count(*)
        # would let PostgreSQL skip the checks).
        cursor.execute(f"select count(*) from ({repair.plan_sql(ALL_THERAPISTS)}) plan where plan::text <> ''")
        read = time.monotonic() - started
    with transaction.atomic(using=PLATFORM_DB), connections[PLATFORM_DB].cursor() as cursor:
        apply_state_settings(cursor, ALL_THERAPISTS)
        started = time.monotonic()
        cursor.execute(f"create temporary table repair_plan on commit drop as\n{repair.plan_sql(ALL_THERAPISTS)}")
        cursor.execute("create index on repair_plan (therapist_id)")
        cursor.execute("analyze repair_plan")
        repair.create_work_tables(cursor)
        repair.apply_plan(cursor)
    return read, time.monotonic() - started


_LOOP_SELECT = """
select u.id, u.full_name, u.is_active, u.avatar_url,
       e.id, e.full_name, e.bio, e.experience_years, e.specializations, e.profile_image_url,
       e.status, e.is_active,
       p.id, p.bio, p.experience_years, p.specializations, p.profile_image_url, p.verification_status
from users u
left join therapist_enrollments e on e.user_id = u.id
left join therapist_profiles p on p.user_id = u.id
where u.id = %s
"""


def loop(sample):
    """Run the per-therapist loop on a random sample; return (seconds per therapist, therapists)."""
    with connections[PLATFORM_DB].cursor() as cursor:
        cursor.execute("select id from users where user_type = 'therapist'")
        ids = [row[0] for row in cursor.fetchall()]
    chosen = random.Random(1).sample(ids, min(sample, len(ids)))
    db = settings.DATABASES[PLATFORM_DB]
    conninfo = f"host={db['HOST']} port={db['PORT']} user={db['USER']} dbname={db['NAME']}"
    started = time.monotonic()
    with psycopg.connect(conninfo, password=db.get("PASSWORD") or None) as connection:
        for therapist_id in chosen:
            with connection.transaction():
                row = connection.execute(_LOOP_SELECT, [therapist_id]).fetchone()
                (uid, u_name, u_active, u_avatar, eid, e_name, e_bio, e_exp, e_specs, e_image, e_status, e_active,
                 pid, p_bio, p_exp, p_specs, p_image, p_status) = row  # fmt: skip
                if eid is None:
                    continue
                image = e_image if e_image and e_image != "/placeholder.svg" else u_avatar
                if (u_name, u_active, u_avatar) != (e_name, e_active, image):
                    connection.execute(
                        "update users set full_name = %s, is_active = %s, avatar_url = %s, updated_at = now()"
                        " where id = %s",
                        [e_name, e_active, image, uid],
                    )
                if e_image != image:
                    connection.execute(
                        "update therapist_enrollments set profile_image_url = %s, updated_at = now() where id = %s",
                        [image, eid],
                    )
                if pid is not None and (p_bio, p_exp, p_specs, p_image, p_status) != (
                    e_bio,
                    e_exp,
                    e_specs,
                    image,
                    e_status,
                ):
                    connection.execute(
                        "update therapist_profiles set bio = %s, experience_years = %s, specializations = %s,"
                        " profile_image_url = %s, verification_status = %s, is_verified = %s,"
                        " updated_at = now() where id = %s",
                        [e_bio, e_exp, e_specs, image, e_status, e_status == "approved", pid],
                    )
    return (time.monotonic() - started) / len(chosen), len(ids)


def one_therapist(sample=40):
    """
    Return the p95 seconds of what the therapist page asks the platform for one therapist.

    Its state (by normalised email), the resync preview (the plan) and its
    interventions, for a random sample of therapists found by their email as stored.
    """
    with connections[PLATFORM_DB].cursor() as cursor:
        cursor.execute("select email from users where user_type = 'therapist'")
        emails = [row[0] for row in cursor.fetchall()]
    times = []
    for email in random.Random(2).sample(emails, min(sample, len(emails))):
        started = time.monotonic()
        [state, *_] = states_for_email(email)
        repair.preview_email(email)
        list(timeline(state.norm_email, [state.therapist_id]))
        times.append(time.monotonic() - started)
    return statistics.quantiles(times, n=20)[-1]


def refresh_email_keys():
    """Refresh opsdash's lookup of other spellings and unlinked enrollments; return the seconds."""
    started = time.monotonic()
    email_keys.refresh()
    return time.monotonic() - started


def recommended_indexes():
    """Build the indexes opsdash recommends (manage.py platform_setup); return the seconds it took."""
    started = time.monotonic()
    create_recommended_indexes()
    with connections[PLATFORM_DB].cursor() as cursor:
        cursor.execute("analyze users, therapist_enrollments")
    return time.monotonic() - started


def snapshot():
    started = time.monotonic()
    take_snapshot()
    return time.monotonic() - started


def repair_all(without_locks=False):
    """Run repair-all in a process of its own; return (seconds, peak MB, values changed)."""
    args = ("repair_consistency", "--sync")
    if without_locks:
        seconds, peak, report = manage_script(ROOT / "bench" / "repair_without_locks.py")
    else:
        seconds, peak, report = manage(*args)
    return seconds, peak, changed_values(report)


@contextlib.contextmanager
def celery_worker(processes):
    """Run a real Celery worker of ``processes`` processes on the bench's own queue until the block ends."""
    from opsdash.celery import app

    pidfile = Path(tempfile.mkdtemp()) / "worker.pid"
    hostname = f"bench-{os.getpid()}@{platform.node()}"
    command = [
        sys.executable, "-m", "celery", "--app", "opsdash", "worker", "--pool", "prefork",
        "--concurrency", str(processes), "--pidfile", str(pidfile), "--loglevel", "warning",
        "--hostname", hostname, "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    worker = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[hostname], timeout=1):
            if time.monotonic() > deadline or worker.poll() is not None:
                sys.exit("the Celery worker did not start")
        yield
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()


def _wait_for_job(job, timeout):
    """Wait for a job to end; exit when it does not succeed within ``timeout`` seconds."""
    from consistency.models import JobRun

    deadline = time.monotonic() + timeout
    while not (job := JobRun.objects.get(pk=job.pk)).is_finished:
        if time.monotonic() > deadline:
            sys.exit(f"job {job.pk} did not end within {timeout} s")
        time.sleep(0.05)
    if job.state != "succeeded":
        sys.exit(f"job {job.pk} ended {job.state}: {job.error}")


def repair_all_on_workers(processes, timeout=3600):
    """
    Run repair-all's first run through Celery on a worker of ``processes`` processes.

    Return the seconds from queueing the job to its end, as the dashboard's button
    queues it. The worker is started first and answers a ping before the clock starts.
    """
    from consistency.jobs import service

    with celery_worker(processes):
        started = time.monotonic()
        _wait_for_job(service.start_repair_all(None), timeout)
        return time.monotonic() - started


def resync_latency(sample=20):
    """
    Return the p95 seconds from a resync's request to its therapist showing consistent.

    As the therapist page's button does it: queue the resync of a drifted therapist to a
    warm worker, and wait until the job has ended and the drill-down no longer lists it
    (the job refreshes that row before it ends).
    """
    from consistency.jobs import service

    with connections[PLATFORM_DB].cursor() as cursor:
        cursor.execute(
            "select u.email from users u join therapist_profiles p on p.user_id = u.id"
            " join therapist_enrollments e on e.user_id = u.id"
            " where u.user_type = 'therapist' and p.bio is distinct from e.bio and btrim(e.bio) <> ''"
            " and u.email = lower(btrim(u.email))"
        )
        emails = [row[0] for row in cursor.fetchall()]
    times = []
    with celery_worker(1):
        _wait_for_job(service.start_resync(None, emails[-1]), 60)  # warms the worker
        for email in random.Random(3).sample(emails[:-1], min(sample, len(emails) - 1)):
            started = time.monotonic()
            _wait_for_job(service.start_resync(None, email), 60)
            times.append(time.monotonic() - started)
            if TherapistResult.objects.filter(norm_email=email, bio_ok=False).exists():
                sys.exit(f"the resync of {email} left its bio failing")
    return statistics.quantiles(times, n=20)[-1]


def manage_script(script):
    """Run a bench script as `manage` runs a command: (seconds, peak MB, stdout)."""
    import re

    command = ["/usr/bin/time", "-v", sys.executable, str(script)]
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        sys.exit(f"{script} failed:\n{result.stdout}\n{result.stderr}")
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    return seconds, peak_kb / 1024, result.stdout


# ------------------------------------------------------------------------------
# One size, repeated
# ------------------------------------------------------------------------------
def template_therapists():
    """Return how many therapists the template database holds, or None without one."""
    name, template = _names()
    with _maintenance() as admin:
        if not admin.execute("select 1 from pg_database where datname = %s", [template]).fetchone():
            return None
    fresh()
    with connections[PLATFORM_DB].cursor() as cursor:
        cursor.execute("select count(*) from users where user_type = 'therapist'")
        return cursor.fetchone()[0]


def measure(therapists, drift, repeat, loop_sample, guard_cost, reuse=False, guard_only=False, workers=False):
    print(f"\n== {therapists:,} therapists, drift {drift}", flush=True)
    if reuse and template_therapists() == therapists:
        print("reusing the template database of the last run", flush=True)
    else:
        print(f"seeded in {build(therapists, drift):.0f} s", flush=True)
    runs = {}

    def record(step, seconds, **extra):
        runs.setdefault(step, []).append({"seconds": seconds, "load": load(), **extra})
        extras = " ".join(f"{k}={v:.0f}" for k, v in extra.items())
        print(f"  {step}: {seconds:.1f} s (load {load():.1f}) {extras}", flush=True)

    for attempt in range(repeat):
        print(f" run {attempt + 1} of {repeat}", flush=True)
        if workers:
            for processes in (1, 2):
                fresh()
                record(f"repair-all on a Celery worker, {processes} process(es)", repair_all_on_workers(processes))
        if guard_only:
            # The lost-update guard's cost alone: the same first run with and without it,
            # one after the other, each on a fresh copy of the same data.
            fresh()
            seconds, peak, changed = repair_all()
            record("opsdash repair-all, first run", seconds, peak_mb=peak, changed=changed)
            fresh()
            seconds, peak, changed = repair_all(without_locks=True)
            record("opsdash repair-all, first run, without the locks", seconds, peak_mb=peak, changed=changed)
            continue
        fresh()
        read, total = floor()
        record("floor: read", read)
        record("floor: repair in one transaction", total)
        fresh()
        record("snapshot (metrics and drill-down)", snapshot())
        seconds, peak, _ = manage("consistency_report", "--json")
        record("checks pass (consistency_report --json)", seconds, peak_mb=peak)
        seconds, peak, changed = repair_all()
        record("opsdash repair-all, first run", seconds, peak_mb=peak, changed=changed)
        seconds, peak, changed = repair_all()
        record("opsdash repair-all, second run", seconds, peak_mb=peak, changed=changed)
        if guard_cost:
            fresh()
            seconds, peak, changed = repair_all(without_locks=True)
            record("opsdash repair-all, first run, without the locks", seconds, peak_mb=peak, changed=changed)
        fresh()
        with override_settings(OPSDASH_EMAIL_KEYS_MIN_USERS=10**12):
            record("one therapist, p95 (page and preview), no recommended index, whole tables", one_therapist())
        record("refreshing the email lookup (part of every snapshot)", refresh_email_keys())
        with override_settings(OPSDASH_EMAIL_KEYS_MIN_USERS=0):
            record("one therapist, p95 (page and preview), no recommended index, opsdash's lookup", one_therapist())
        record("building the recommended indexes (platform_setup)", recommended_indexes())
        record("one therapist, p95 (page and preview), with the recommended indexes", one_therapist())
        if workers:
            record("resync, p95 from the request to consistent, warm worker, with the indexes", resync_latency())
        fresh()
        per_therapist, count = loop(loop_sample)
        record("per-therapist loop (sample, scaled)", per_therapist * count, sample=min(loop_sample, count))
    if not reuse:
        drop_template()
    return {step: _median(values) for step, values in runs.items()}


def _median(values):
    seconds = statistics.median(v["seconds"] for v in values)
    peak = [v["peak_mb"] for v in values if "peak_mb" in v]
    return {
        "seconds": seconds,
        "all": [round(v["seconds"], 3 if v["seconds"] < 1 else 1) for v in values],
        "load": [round(v["load"], 1) for v in values],
        "peak_mb": max(peak) if peak else None,
    }


# ------------------------------------------------------------------------------
# Reporting
# ------------------------------------------------------------------------------
RATIOS = (
    ("opsdash repair-all, first run", "floor: repair in one transaction", 1.5),
    ("opsdash repair-all, second run", "floor: read", 1.2),
    ("snapshot (metrics and drill-down)", "floor: read", 1.5),
    ("per-therapist loop (sample, scaled)", "floor: repair in one transaction", None),
    ("opsdash repair-all, first run", "opsdash repair-all, first run, without the locks", 1.15),
    ("repair-all on a Celery worker, 2 process(es)", "repair-all on a Celery worker, 1 process(es)", 1.0),
    ("repair-all on a Celery worker, 2 process(es)", "floor: repair in one transaction", 1.5),
)


def _seconds(value):
    return f"{1000 * value:.0f} ms" if value < 1 else f"{value:.1f} s"


def table(results, repeat):
    lines = [
        "Median of the runs of each size; every run in brackets, then the 1-minute load average at its end.",
        "",
        "| therapists | step | median | runs (s) | load | peak memory |",
        "|---|---|---|---|---|---|",
    ]
    for therapists, steps in results.items():
        for step, figure in steps.items():
            peak = f"{figure['peak_mb']:.0f} MB" if figure["peak_mb"] else ""
            lines.append(
                f"| {therapists:,} | {step} | {_seconds(figure['seconds'])} | {figure['all']} | {figure['load']} | {peak} |"
            )
    lines += ["", "| therapists | ratio | measured | target |", "|---|---|---|---|"]
    for therapists, steps in results.items():
        for top, bottom, target in RATIOS:
            if top in steps and bottom in steps:
                ratio = steps[top]["seconds"] / steps[bottom]["seconds"]
                goal = (f"< {target}×" if target == 1.0 else f"≤ {target}×") if target else ""
                lines.append(f"| {therapists:,} | {top} / {bottom} | {ratio:.2f}× | {goal} |")
    return "\n".join(lines)


def plot(results):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(results)
    figure, axes = plt.subplots(figsize=(8, 5))
    for step in (
        "opsdash repair-all, first run",
        "opsdash repair-all, second run",
        "checks pass (consistency_report --json)",
        "snapshot (metrics and drill-down)",
        "floor: repair in one transaction",
    ):
        points = [(n, 1e6 * results[n][step]["seconds"] / n) for n in sizes if step in results[n]]
        if points:
            axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=step)
    axes.set_xscale("log")
    axes.set_xlabel("therapists")
    axes.set_ylabel("µs per therapist (flat = linear growth)")
    axes.set_title("opsdash on PostgreSQL, median of the runs")
    axes.legend(fontsize="small")
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(PLOT, dpi=100)


def machine():
    with connections[PLATFORM_DB].cursor() as cursor:
        cursor.execute("show server_version")
        version = cursor.fetchone()[0]
    return (
        f"PostgreSQL {version} with its default configuration, {os.cpu_count()} vCPUs shared with other work, "
        f"Python {platform.python_version()} on the same machine."
    )


def write_docs(text):
    document = DOCS.read_text()
    block = f"{BEGIN}\n{text}\n{END}"
    if BEGIN in document:
        before, rest = document.split(BEGIN, 1)
        document = before + block + rest.split(END, 1)[1]
    else:
        document = document.rstrip() + "\n\n" + block + "\n"
    DOCS.write_text(document)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--therapists", default="10000,100000,1000000", help="sizes, comma-separated")
    parser.add_argument("--drift", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--loop-sample", type=int, default=2000)
    parser.add_argument("--guard-cost", action="store_true", help="also run repair-all without the lost-update locks")
    parser.add_argument(
        "--guard-only", action="store_true", help="run only repair-all's first run with and without the locks"
    )
    parser.add_argument("--workers", action="store_true", help="also run repair-all on 1 and then 2 worker processes")
    parser.add_argument("--reuse", action="store_true", help="keep the template database and reuse it when it matches")
    parser.add_argument("--render", action="store_true", help="measure nothing: write the docs from the figures kept")
    parser.add_argument("--write-docs", action="store_true", help="write docs/benchmarks.md's table and the plot")
    args = parser.parse_args()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    sizes = [int(size) for size in args.therapists.split(",")] if not args.render else []
    results = {
        n: measure(
            n, args.drift, args.repeat, args.loop_sample, args.guard_cost, args.reuse, args.guard_only, args.workers
        )
        for n in sizes
    }
    print("\n" + table(results, args.repeat))
    if args.write_docs or args.render:
        # Sizes measured before (by an earlier run of this command) stay, unless measured again.
        saved = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        saved = {int(n): steps for n, steps in saved.items()}
        saved.update(results)
        RESULTS.write_text(json.dumps({str(n): saved[n] for n in sorted(saved)}, indent=1) + "\n")
        text = f"{machine()}\n\n{table(dict(sorted(saved.items())), args.repeat)}"
        if len(saved) > 1:
            plot(saved)
            text += f"\n\n![Time per therapist against therapists]({PLOT.name})"
        write_docs(text)


if __name__ == "__main__":
    main()
