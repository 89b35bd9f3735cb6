"""
Start, cancel and preview repair jobs: what views, commands and the admin call.

Each start creates a JobRun (queued), writes an audit entry and queues a Celery task
that calls consistency.jobs.runner. Two repair-alls never run at once: the database's
unique index one_active_repair_all refuses the second JobRun, so two quick clicks (or
two web servers) start one job.
"""

from typing import Any
from uuid import UUID, uuid4

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from kombu.exceptions import KombuError

from availability.guard import mark_down, mark_up
from availability.models import Service
from consistency.engine import repair
from consistency.engine.checks import normalise_email, states_for_email
from consistency.jobs import runner
from consistency.jobs import stale as stale_jobs
from consistency.models import ACTIVE_STATES, AuditAction, JobEvent, JobKind, JobRun, JobState, TherapistProfile
from consistency.models.audit import record
from interventions.log import OPSDASH, resolve_open
from opsdash.inputs import excerpt

# The longest an email address can be (RFC 5321's path limit, as Django's validator).
MAX_EMAIL_LENGTH = 254


class JobError(Exception):
    """A job cannot be started or an action cannot be taken; str() says why."""


class JobAlreadyRunning(JobError):
    """A repair-all is queued or running."""

    def __init__(self, job):
        self.job = job
        who = job.requested_by.get_username() if job.requested_by else "opsdash"
        since = timezone.localtime(job.started_at or job.created_at).strftime("%Y-%m-%d %H:%M")
        super().__init__(
            f"{job} is already {job.get_state_display().lower()} (asked by {who} at {since}): "
            "wait for it to finish or cancel it."
        )


class UnknownTherapist(JobError):
    """No therapist has that normalised email."""


class InvalidEmail(JobError):
    """The email is malformed."""


class QueueUnavailable(JobError):
    """The broker (Redis) is down; the JobRun is marked failed with the reason."""


class MissingProfileError(JobError):
    """A profile cannot be created for this therapist (it has one, lacks an enrollment, ...)."""


def _invalid_email(email):
    return InvalidEmail(f"{excerpt(email)} is not a valid email address.")


def check_email(email: str | None) -> str:
    """Return the normalised email (docs/rules.md §2, by PostgreSQL), or raise InvalidEmail if it cannot be one."""
    # Refused before any database is asked: nobody's email lacks an @ or is this long.
    if not email or "@" not in email or len(email) > MAX_EMAIL_LENGTH or "\x00" in email:
        raise _invalid_email(email)
    return normalise_email(email)


def find_therapist_ids(email: str | None) -> list[UUID]:
    """
    Return the ids of the therapists with this email (normalised), or raise a JobError.

    A stored email is found by the same text even where it is not a valid address (a
    trailing tab: btrim() keeps it); only an email that matches nobody is checked.
    """
    normalised = check_email(email)
    ids = repair.therapist_ids_for_email(normalised)
    if not ids:
        try:
            validate_email(normalised)
        except ValidationError:
            raise _invalid_email(email) from None
        raise UnknownTherapist(f"No therapist has the email {normalised}.")
    return ids


def _actor_name(user):
    return user.get_username() if user and user.is_authenticated else "opsdash"


def _create(requested_by, kind, target="", dry_run=False):
    with transaction.atomic():
        job = JobRun.objects.create(
            kind=kind,
            target=target,
            dry_run=dry_run,
            requested_by=requested_by if requested_by and requested_by.is_authenticated else None,
        )
        JobEvent.objects.create(job=job, state=JobState.QUEUED, message=f"Requested by {_actor_name(requested_by)}")
    return job


def _enqueue(job, task):
    """
    Queue ``task`` for the job, or mark the job failed and raise QueueUnavailable.

    A fresh broker connection per job makes a Redis outage show at once, as a clear
    error, instead of a job that stays queued forever.
    """
    task_id = str(uuid4())
    JobRun.objects.filter(pk=job.pk).update(celery_task_id=task_id)
    job.celery_task_id = task_id
    app = task.app
    try:
        with app.connection_for_write() as connection:
            task.apply_async(
                (job.pk,), task_id=task_id, connection=connection, queue=settings.CELERY_TASK_DEFAULT_QUEUE
            )
    except (KombuError, OSError) as exc:
        mark_down(Service.QUEUE, exc)
        broker = app.connection_for_write().as_uri()
        message = f"The task queue ({broker}) is unavailable: {exc}. Nothing was changed; start the job again."
        runner.fail_job(job.pk, message)
        job.refresh_from_db()
        raise QueueUnavailable(message) from None
    mark_up(Service.QUEUE)
    return job


def start_repair_all(requested_by, dry_run: bool = False, queue: bool = True) -> JobRun:
    """
    Create a repair-all JobRun and queue it; return the job.

    Refuses (JobAlreadyRunning) while another repair-all that writes is queued or
    running. A dry run computes what would change, writing nothing to the platform.
    With ``queue=False`` the caller runs it (runner.run_repair_all) instead of a worker.
    """
    try:
        job = _create(requested_by, JobKind.REPAIR_ALL, dry_run=dry_run)
    except IntegrityError:
        active = JobRun.objects.filter(kind=JobKind.REPAIR_ALL, dry_run=False, state__in=ACTIVE_STATES).first()
        if active is None:  # it finished in between: the caller may simply retry
            raise JobError("Another repair-all was just starting; try again.") from None
        raise JobAlreadyRunning(active) from None
    record(requested_by, AuditAction.REPAIR_ALL, "all", job=job, dry_run=dry_run)
    if queue:
        from consistency.tasks import repair_all

        _enqueue(job, repair_all)
    return job


def start_resync(requested_by, email: str | None, queue: bool = True) -> JobRun:
    """Validate the email, find the therapist, create a resync JobRun and queue it; return the job."""
    normalised = check_email(email)
    find_therapist_ids(normalised)
    job = _create(requested_by, JobKind.RESYNC, target=normalised)
    record(requested_by, AuditAction.RESYNC, normalised, job=job)
    if queue:
        from consistency.tasks import resync_therapist

        _enqueue(job, resync_therapist)
    return job


def may_cancel(job: JobRun, user) -> bool:
    """Tell whether a user may cancel a job: the operator who started it, or a superuser."""
    return user.is_superuser or (job.requested_by_id is not None and job.requested_by_id == user.pk)


def request_cancel(job: JobRun, user) -> bool:
    """
    Ask a job to stop after the chunk in hand; return False if it had already finished.

    Only the operator who started it or a superuser may cancel it (PermissionDenied).
    A job is cancelled at once when nothing is in hand: still queued, a repair-all with
    no chunk running (its chunk tasks may be gone, with a killed worker or a Redis that
    lost its data), or a resync that is stale. So a job no worker will finish never
    blocks the next repair-all.
    """
    if not may_cancel(job, user):
        raise PermissionDenied("Only the operator who started this job or a superuser may cancel it.")
    asked = JobRun.objects.filter(pk=job.pk, state__in=ACTIVE_STATES).update(cancel_requested=True)
    if not asked:
        job.refresh_from_db()
        return False
    who = _actor_name(user)
    if not (
        runner.transition(
            job.pk,
            JobState.CANCELLED,
            f"Cancelled by {who} before it started",
            from_states=[JobState.QUEUED],
            finished_at=timezone.now(),
        )
        or _cancel_running_at_once(job, who)
    ):
        JobEvent.objects.create(job_id=job.pk, state=JobState.RUNNING, message=f"Cancel requested by {who}")
    record(user, AuditAction.CANCEL, job.target or "all", job=job)
    job.refresh_from_db()
    return True


def _cancel_running_at_once(job, who):
    """End a running job cancelled while nothing of it is in hand; return whether it ended."""
    job.refresh_from_db()
    if job.kind == JobKind.RESYNC:
        # A resync is one transaction: only a lost one ends before its task does.
        reason = stale_jobs.stale_reason(job)
        if reason is None:
            return False
        message = f"Cancelled by {who}: {reason}"
    else:
        message = f"Cancelled by {who} while no chunk was running: the chunks not started are skipped"
    return runner.end_job(
        job.pk,
        JobState.CANCELLED,
        message,
        lost_before=stale_jobs.lost_before(),
        from_states=[JobState.RUNNING],
        unless_in_hand=True,
    )


def end_stale(job: JobRun, user) -> bool:
    """
    End a stale running job as failed, at an operator's request; return False if it had finished.

    Any operator may, not only its starter: a stale repair-all blocks everyone's next
    one. A job that may still progress is refused (JobError): cancel it instead.
    """
    reason = stale_jobs.stale_reason(job)
    if reason is None:
        job.refresh_from_db()
        if job.is_finished:
            return False
        raise JobError(f"{job} is not stale: it may still progress. Cancel it instead.")
    who = _actor_name(user)
    if not runner.end_job(
        job.pk,
        JobState.FAILED,
        f"Ended by {who} as stale: {reason}.",
        lost_before=stale_jobs.lost_before(),
        from_states=[JobState.RUNNING],
    ):
        return False
    record(user, AuditAction.CANCEL, job.target or "all", job=job, stale=reason)
    job.refresh_from_db()
    return True


def resync_preview(email: str | None) -> list[dict[str, Any]]:
    """Return what a resync would write, [{table, column, before, after}, ...]; writes nothing."""
    find_therapist_ids(email)
    return repair.preview_email(check_email(email))


def create_missing_profile_preview(email: str | None) -> dict[str, Any]:
    """
    Return the profile that "create the missing profile" would insert (docs/rules.md §4 operator action).

    The values are the repair's canonical ones from the canonical enrollment (avatar
    falling back to the user's), plus the enrollment's licensed qualification where
    the platform's table has one; None there means the operator must give it.
    """
    normalised = check_email(email)
    find_therapist_ids(normalised)
    missing = [state for state in states_for_email(normalised) if state.missing_profile]
    if not missing:
        raise MissingProfileError(f"Every therapist with the email {normalised} has a profile.")
    if len(missing) > 1:
        raise MissingProfileError(
            f"{len(missing)} users share the email {normalised}: resolve the duplicate users first."
        )
    if missing[0].missing_enrollment:
        raise MissingProfileError(f"The therapist {normalised} has no enrollment to create the profile from.")
    return repair.missing_profile_values(missing[0].therapist_id)


def _check_column_limits(values):
    """Refuse a profile whose text is longer than its column holds (therapist_profiles, docs/rules.md §1)."""
    for field in TherapistProfile._meta.concrete_fields:
        value = values.get(field.attname)
        if field.max_length and isinstance(value, str) and len(value) > field.max_length:
            raise MissingProfileError(
                f"The {field.verbose_name} {excerpt(value)} is {len(value)} characters long; "
                f"a profile holds at most {field.max_length}."
            )


def create_missing_profile(requested_by, email: str | None, licensed_qualification: str | None = None) -> UUID:
    """Create the missing profile shown by create_missing_profile_preview; return its id."""
    values = create_missing_profile_preview(email)
    if licensed_qualification:
        values["licensed_qualification"] = licensed_qualification.strip()
    if not values["licensed_qualification"]:
        raise MissingProfileError(
            "The enrollment has no licensed qualification, which a profile requires: give it to create the profile."
        )
    _check_column_limits(values)
    profile_id = repair.insert_profile(values)
    if profile_id is None:
        raise MissingProfileError(f"The therapist {normalise_email(email)} has a profile now.")
    normalised = normalise_email(email)
    resolve_open(
        "missing-profile",
        normalised,
        resolved_by=_actor_name(requested_by) if requested_by else OPSDASH,
        note="Profile created from the enrollment in opsdash.",
        user_id=values["user_id"],
    )
    record(requested_by, AuditAction.CREATE_PROFILE, normalised, profile_id=str(profile_id))
    return profile_id
