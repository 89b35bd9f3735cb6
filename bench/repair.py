"""
Time the repair of everyone: a first run on seeded drift, then a second run.

    python bench/repair.py [--therapists 1000000] [--drift 0.1] [--reuse] [--chunk-size N]

Runs against PLATFORM_DATABASE_URL, which it empties and seeds with seed_platform
(--reuse keeps what is there when it already has that many therapists; the first run
then finds whatever the last run left). Each repair is `manage.py repair_consistency
--sync` in a process of its own under /usr/bin/time -v, for its wall time and peak
memory; consistency_report --json then says what is left. Never point it at a
production database.
"""

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsdash.settings")
# A benchmark signs nothing that outlives it: any key will do (the settings require one).
os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from bench.checks import therapist_count  # noqa: E402
from consistency.platform.seed import seed_platform  # noqa: E402


def manage(*args, env=None):
    """Run a management command in a process of its own; return (seconds, peak MB, stdout)."""
    command = ["/usr/bin/time", "-v", sys.executable, str(ROOT / "manage.py"), *args]
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    return seconds, peak_kb / 1024, result.stdout


def changed_values(report):
    """Return the sum of the per-column counts of a repair report (a row counts once per column changed)."""
    lines = report.split("per table and column:")[1].splitlines()[1:]
    return sum(
        int(line.split()[-1]) for line in lines if line.strip() and line.strip() != "nothing" and line.startswith("  ")
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--therapists", type=int, default=1_000_000)
    parser.add_argument("--drift", type=float, default=0.1)
    parser.add_argument("--reuse", action="store_true", help="keep the data when the count matches")
    parser.add_argument("--chunk-size", type=int, default=settings.OPSDASH_REPAIR_CHUNK_SIZE)
    args = parser.parse_args()
    env = {**os.environ, "OPSDASH_REPAIR_CHUNK_SIZE": str(args.chunk_size)}

    print(f"Platform database: {settings.DATABASES['platform']['NAME']}, chunks of {args.chunk_size}\n")
    if not (args.reuse and therapist_count() == args.therapists):
        started = time.monotonic()
        seed_platform(args.therapists, args.drift, replace=True)
        print(
            f"seed_platform --therapists {args.therapists} --drift {args.drift}: {time.monotonic() - started:.0f} s\n"
        )

    print("| step | time | peak memory | values changed |\n|---|---|---|---|")
    for label in ("first repair_consistency --sync", "second repair_consistency --sync"):
        seconds, peak, report = manage("repair_consistency", "--sync", env=env)
        print(f"| {label} | {seconds:.0f} s | {peak:.0f} MB | {changed_values(report)} |", flush=True)
    seconds, peak, report = manage("consistency_report", "--json", env=env)
    metrics = json.loads(report)
    print(f"| consistency_report --json | {seconds:.0f} s | {peak:.0f} MB | |")
    print(f"\nAfter: {json.dumps(metrics, indent=2)}")


if __name__ == "__main__":
    main()
