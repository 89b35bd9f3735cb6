import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import Error as DatabaseError
from django.utils import timezone

from consistency.engine import repair
from consistency.engine.checks import BY_NORMALISED_EMAIL
from consistency.jobs import runner
from consistency.jobs import service as jobs
from consistency.models import JobRun, JobState
from opsdash.timeouts import use_job_timeouts


def _format_counts(rows_changed):
    """Return a 'table.column  count' line per column with a change, in repair order, or 'nothing'."""
    lines = []
    for table, column, _, _ in repair.COLUMNS:
        count = rows_changed.get(table, {}).get(column, 0)
        if count:
            lines.append(f"  {table + '.' + column:<40}{count:>10}")
    return lines or ["  nothing"]


class Command(BaseCommand):
    help = (
        "Repair the therapists' rows (docs/rules.md §4): everyone, or the therapist with --email. "
        "Queued to Celery unless --sync; --dry-run writes nothing and reports what would change."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="write nothing; report what would change")
        parser.add_argument("--email", help="only the therapist with this email (normalised: trimmed, lowercased)")
        parser.add_argument("--sync", action="store_true", help="run here in the foreground, with progress")

    def handle(self, *args, dry_run, email, sync, **options):
        use_job_timeouts()
        try:
            if email is not None:
                return self._one(email, dry_run, sync)
            return self._everyone(dry_run, sync)
        except jobs.JobError as exc:
            raise CommandError(str(exc)) from None
        except DatabaseError as exc:
            raise CommandError(f"cannot reach the database: {exc}") from None

    # --------------------------------------------------------------------------
    def _one(self, email, dry_run, sync):
        if dry_run:
            # A preview reads only, so it always runs here.
            normalised = jobs.check_email(email)
            jobs.find_therapist_ids(normalised)
            changes = jobs.resync_preview(normalised)
            counts = repair.count_changes(BY_NORMALISED_EMAIL, {"email": normalised}).rows_changed
            self.stdout.write(f"Dry run for {normalised}: nothing was written.")
            self.stdout.write("Rows that would change, per table and column:")
            self.stdout.write("\n".join(_format_counts(counts)))
            for change in changes:
                self.stdout.write(
                    f"  {change['table']}.{change['column']}: {change['before']!r} -> {change['after']!r}"
                )
            return
        job = jobs.start_resync(None, email, queue=not sync)
        if not sync:
            self.stdout.write(f"Queued resync job {job.pk} for {job.target}.")
            return
        self._run(job, runner.run_resync)
        self._report(JobRun.objects.get(pk=job.pk))

    def _everyone(self, dry_run, sync):
        job = jobs.start_repair_all(None, dry_run=dry_run, queue=not sync)
        if not sync:
            kind = "dry run of repair-all" if dry_run else "repair-all"
            self.stdout.write(f"Queued {kind} job {job.pk}.")
            return
        progress = _Progress(self.stderr)
        self._run(job, runner.run_repair_all, progress=progress)
        progress.close()
        self._report(JobRun.objects.get(pk=job.pk))

    def _run(self, job, step, **kwargs):
        """Run a job's steps here; an interruption cancels it, an error fails it (never left running)."""
        try:
            step(job.pk, **kwargs)
        except KeyboardInterrupt:
            # The chunk in hand rolled back with its transaction; the chunks before it stay done.
            runner.transition(
                job.pk,
                JobState.CANCELLED,
                "Interrupted in the terminal",
                cancel_requested=True,
                finished_at=timezone.now(),
            )
            raise CommandError(
                f"Interrupted: job {job.pk} cancelled; every chunk is either done or untouched."
            ) from None
        except Exception as exc:
            runner.fail_job(job.pk, f"{type(exc).__name__}: {exc}")
            raise

    def _report(self, job):
        verb = "would change" if job.dry_run else "changed"
        self.stdout.write(f"Job {job.pk} {job.get_state_display().lower()} in {job.duration}.")
        self.stdout.write(
            f"Therapists: {job.therapists_total} examined, {job.therapists_changed} {verb}, "
            f"{job.therapists_failed} failed (logged to manual_intervention_log)."
        )
        self.stdout.write(f"Rows that {verb}, per table and column:")
        self.stdout.write("\n".join(_format_counts(job.rows_changed or {})))
        if not job.dry_run:
            self.stdout.write(
                f"Interventions: {job.interventions_logged} logged, {job.interventions_resolved} resolved."
            )
        if job.metrics_after:
            self.stdout.write(
                f"Consistent therapists: {job.metrics_before['consistent']} before, "
                f"{job.metrics_after['consistent']} after, of {job.metrics_after['therapists']}."
            )
        if job.error:
            self.stderr.write(job.error)
        if job.state in (JobState.FAILED, JobState.CANCELLED):
            raise CommandError(f"Job {job.pk} {job.get_state_display().lower()}.")


class _Progress:
    """A progress bar on a terminal, a line every 10% elsewhere."""

    WIDTH = 30

    def __init__(self, stream):
        self.stream = stream
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.started = time.monotonic()
        self.last_tenth = -1

    def __call__(self, job):
        done, total = job.progress_done, job.progress_total or 1
        elapsed = time.monotonic() - self.started
        text = f"{done}/{total} chunks, {job.therapists_total} therapists, {job.therapists_changed} changed, {elapsed:.0f}s"
        if self.tty:
            filled = self.WIDTH * done // total
            self.stream.write(f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {text}", ending="")
            self.stream.flush()
        elif 10 * done // total > self.last_tenth:
            self.last_tenth = 10 * done // total
            self.stream.write(text)

    def close(self):
        if self.tty:
            self.stream.write("")
            sys.stderr.flush()
