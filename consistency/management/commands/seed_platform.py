import time

from django.core.management.base import BaseCommand, CommandError
from django.db import Error as DatabaseError

from consistency.models import AuditAction
from consistency.models.audit import cli_actor_name, record
from consistency.platform.seed import PlatformNotEmpty, seed_platform
from opsdash.timeouts import use_job_timeouts


def _rate(value):
    rate = float(value)
    if not 0 <= rate <= 1:
        raise ValueError
    return rate


def _first_line(statement):
    lines = [line for line in statement.strip().splitlines() if line and not line.startswith("--")]
    return lines[0][:70] if lines else ""


class Command(BaseCommand):
    help = "Create the platform tables if missing and fill them with demo therapists (never on production)."

    def add_arguments(self, parser):
        parser.add_argument("--therapists", type=int, required=True, help="how many therapists")
        parser.add_argument(
            "--drift", type=_rate, default=0.1, help="share of therapists with each kind of drift (0-1)"
        )
        parser.add_argument("--seed", type=int, default=1, help="the same seed gives the same rows")
        parser.add_argument("--replace", action="store_true", help="empty the platform tables first")

    def handle(self, *args, therapists, drift, seed, replace, verbosity, **options):
        use_job_timeouts()
        if therapists < 1:
            raise CommandError("--therapists must be at least 1")

        def progress(statement, seconds):
            if verbosity > 1:
                self.stdout.write(f"  {seconds:7.1f}s  {_first_line(statement)}")

        started = time.monotonic()
        try:
            seed_platform(therapists, drift, seed=seed, replace=replace, progress=progress)
        except PlatformNotEmpty as exc:
            raise CommandError(f"{exc}; pass --replace to empty it first (never on production)") from None
        except DatabaseError as exc:
            raise CommandError(f"cannot seed the platform database: {exc}") from None
        record(
            None,
            AuditAction.SEED_PLATFORM,
            "all",
            actor_name=cli_actor_name(),
            therapists=therapists,
            drift=drift,
            seed=seed,
            replace=replace,
        )
        self.stdout.write(
            f"Seeded {therapists} therapists (drift {drift}, seed {seed}) in {time.monotonic() - started:.1f}s"
        )
