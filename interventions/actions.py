"""
Operator actions on interventions: resolve with a note, annotate, retry.

Each acts on a queryset (one item, a group, or everything the current filter
selects), writes set-based, and leaves one audit entry per therapist and operation
it touched, so that the therapist's timeline shows it.
"""

import uuid
from collections import defaultdict

from django.db import connections, transaction
from django.utils import timezone

from consistency import jobs
from consistency.models import AuditAction
from consistency.models.audit import record
from opsdash.db import PLATFORM_DB

# Resolve only what is still open: two operators resolving the same item at once
# resolve it once, and the rows returned say exactly which ones this call resolved.
RESOLVE = """
update manual_intervention_log
   set resolved = true, resolved_at = %(at)s, resolved_by = %(by)s, resolution_notes = %(note)s
 where id = any(%(ids)s::uuid[]) and resolved is not true
returning id, entity_id, operation
"""
# A note on an open item is appended, never replaces what an earlier note said.
ANNOTATE = """
update manual_intervention_log
   set resolution_notes = concat_ws(E'\\n', nullif(resolution_notes, ''), %(note)s)
 where id = any(%(ids)s::uuid[]) and resolved is not true
returning id, entity_id, operation
"""


def _ids(interventions):
    return [str(pk) for pk in interventions.values_list("id", flat=True)]


def _run(statement, params):
    with transaction.atomic(using=PLATFORM_DB), connections[PLATFORM_DB].cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()


def _audit(user, action, rows, **details):
    """Record one audit entry per therapist and operation among the rows written."""
    touched = defaultdict(list)
    for pk, entity_id, operation in rows:
        touched[(entity_id or "", operation)].append(str(pk))
    for (entity_id, operation), ids in touched.items():
        record(
            user, action, entity_id or "(no entity)", operation=operation, interventions=ids, count=len(ids), **details
        )


def resolve(interventions, user, note):
    """Resolve the open interventions among ``interventions``, saying who, when and why; return how many."""
    ids = _ids(interventions)
    if not ids:
        return 0
    rows = _run(RESOLVE, {"ids": ids, "at": timezone.now(), "by": user.get_username(), "note": note})
    _audit(user, AuditAction.RESOLVE, rows, note=note)
    return len(rows)


def annotate(interventions, user, note):
    """Add a signed note to the open interventions among ``interventions``; return how many."""
    ids = _ids(interventions)
    if not ids:
        return 0
    signed = f"[{timezone.now():%Y-%m-%d %H:%M} {user.get_username()}] {note}"
    rows = _run(ANNOTATE, {"ids": ids, "note": signed})
    _audit(user, AuditAction.NOTE, rows, note=note)
    return len(rows)


def therapist_email(entity_id):
    """
    Return the email to resync for an intervention's entity_id.

    opsdash logs the normalised email; the platform may have logged a user id (docs/rules.md §1).
    """
    from consistency.models import PlatformUser

    if entity_id and "@" not in entity_id:
        try:
            user = PlatformUser.objects.filter(pk=uuid.UUID(entity_id)).first()
        except ValueError:
            user = None
        return user.email if user else entity_id
    return entity_id or ""


def retry(interventions, user):
    """
    Queue one resync per therapist among the open ``interventions``; return (jobs, errors).

    A resync that finds the problem gone resolves its interventions itself (docs/rules.md §4).
    A therapist that cannot be resynced (unknown email, queue down) is reported in
    ``errors`` as (entity_id, message) and the others go on.
    """
    by_entity = defaultdict(list)
    for pk, entity_id, operation in interventions.exclude(resolved=True).values_list("id", "entity_id", "operation"):
        by_entity[entity_id].append((str(pk), operation))
    started, errors = [], []
    for entity_id, items in by_entity.items():
        try:
            job = jobs.start_resync(user, therapist_email(entity_id))
        except jobs.JobError as exc:
            errors.append((entity_id, str(exc)))
            continue
        started.append(job)
        record(
            user,
            AuditAction.RETRY,
            job.target,
            job=job,
            operations=sorted({op for _, op in items}),
            interventions=[pk for pk, _ in items],
        )
    return started, errors
