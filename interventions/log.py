"""
The rules of manual_intervention_log (docs/rules.md §4, the platform's GRACEFUL-DEGRADATION-PATTERN).

- A problem is logged once: while an unresolved row with the same operation and
  entity_id exists, no new row is added.
- Whoever finds a problem gone resolves its open rows, saying who and why.

Two writers checking "is it already logged?" at the same moment would both add a row:
the table has no unique index to lean on, and opsdash creates nothing in the platform
database but the log itself. So a writer first takes a transaction-level advisory lock
per problem, the same key as the safety-net triggers' opsdash_log_sync_failure(), and
checks again under it. Keys are locked in sorted order, so two writers of overlapping
sets cannot deadlock, and only for problems not logged yet. Each lock takes a slot of
PostgreSQL's shared lock table until its transaction ends (64 per connection by
default), so problems are logged in transactions of at most LOG_BATCH: never inside a
caller's long transaction (20,000 orphan enrollments at once ran out of shared memory).
"""

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, transaction

from opsdash.db import PLATFORM_DB

OPSDASH = "opsdash"

# Operations the platform and opsdash log for a sync that failed. A repair resolves
# them when it finds the therapist's data consistent again.
SYNC_OPERATIONS = ("avatar-sync", "profile-sync", "verification-sync", "therapist-sync")
# A therapist whose repair failed even alone (docs/rules.md §4 graceful degradation).
THERAPIST_SYNC = "therapist-sync"

# Problems per logging transaction, each holding one advisory lock until it commits.
LOG_BATCH = 200

# The advisory lock key of one problem, as in consistency/sql/safety_net_install.sql.
_LOCK_KEY = "hashtextextended('opsdash intervention ' || x.operation || ' ' || coalesce(x.entity_id, ''), 0)"
# An equality on coalesce(), not IS NOT DISTINCT FROM, so that PostgreSQL can hash the
# open rows: IS NOT DISTINCT FROM compared every problem with every open row (22 s for
# 20,000 orphans against 100,000 open rows). A NULL entity_id and an empty one are
# the same "no entity" here.
_STILL_OPEN = """
    select 1 from manual_intervention_log l
    where l.operation = x.operation
      and coalesce(l.entity_id, '') = coalesce(x.entity_id, '')
      and l.resolved is not true
"""
# Rows given as a JSON array of {operation, entity_id, error, payload}.
_FROM_JSON = (
    "select * from jsonb_to_recordset(%(entries)s::jsonb)"
    " as e(operation text, entity_id text, error text, payload jsonb)"
)

_RESOLVE_SQL = """
update manual_intervention_log set
    resolved = true,
    resolved_at = now(),
    resolved_by = %(resolved_by)s,
    resolution_notes = %(note)s
where resolved is not true
  and operation = any(%(operations)s)
  and (lower(btrim(entity_id)) = lower(btrim(%(entity_id)s)) or entity_id = %(user_id)s)
"""


def unlogged(cursor, source_sql, params):
    """
    Return the problems of ``source_sql`` that are not logged and open, as dicts.

    ``source_sql`` is a fixed statement (never input) selecting operation, entity_id,
    error and payload (jsonb), with its values in ``params``. Log them with
    log_interventions once the caller's transaction has ended.

    The payload is read as text and decoded here, so that it is logged again as the
    object it is: Django's cursors hand jsonb over undecoded, as text, and encoding
    that text once more wrote a JSON string holding JSON (interventions.payloads
    repairs the rows written so).
    """
    cursor.execute(
        "select x.operation, x.entity_id, x.error, x.payload::text as payload"
        f" from ({source_sql}) x where not exists ({_STILL_OPEN})",
        params,
    )
    return [
        {"operation": operation, "entity_id": entity_id, "error": error, "payload": _decoded(payload)}
        for operation, entity_id, error, payload in cursor.fetchall()
    ]


def _decoded(payload_text):
    return None if payload_text is None else json.loads(payload_text)


def _log_once(cursor, document):
    """Log the problems of a JSON array once each, under their locks; return how many rows were added."""
    params = {"entries": document}
    cursor.execute(
        f"""
        select pg_advisory_xact_lock(key) from (
            select distinct {_LOCK_KEY} as key from ({_FROM_JSON}) x
            where not exists ({_STILL_OPEN})
            order by 1
        ) keys
        """,
        params,
    )
    cursor.execute(
        f"""
        insert into manual_intervention_log (operation, entity_id, error, payload)
        select distinct on (x.operation, x.entity_id) x.operation, x.entity_id, x.error, x.payload
        from ({_FROM_JSON}) x
        where not exists ({_STILL_OPEN})
        order by x.operation, x.entity_id, x.error
        """,
        params,
    )
    return cursor.rowcount


def log_interventions(entries, using=PLATFORM_DB):
    """
    Log each problem of ``entries`` once; return how many rows were added.

    ``entries`` are dicts with operation, entity_id, error and payload (JSON-able);
    of several for one problem the first by error is kept. Set-based, in transactions
    of at most LOG_BATCH problems.
    """
    entries = list(entries)
    added = 0
    for start in range(0, len(entries), LOG_BATCH):
        document = json.dumps(entries[start : start + LOG_BATCH], cls=DjangoJSONEncoder)
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            added += _log_once(cursor, document)
    return added


def log_intervention(operation, entity_id, error, payload=None, using=PLATFORM_DB):
    """Log a problem unless it is already logged and unresolved; return whether a row was added."""
    entry = {"operation": operation, "entity_id": entity_id, "error": error, "payload": payload}
    return log_interventions([entry], using=using) == 1


def resolve_open(operations, entity_id, resolved_by=OPSDASH, note="", user_id=None, using=PLATFORM_DB):
    """
    Resolve the open interventions of these operations for one therapist; return how many.

    ``entity_id`` matches the logged entity_id as a normalised email; ``user_id``, when
    given, also matches rows the platform logged under the user's id.
    """
    if isinstance(operations, str):
        operations = [operations]
    params = {
        "operations": list(operations),
        "entity_id": entity_id,
        "user_id": str(user_id) if user_id else None,
        "resolved_by": resolved_by,
        "note": note,
    }
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute(_RESOLVE_SQL, params)
        return cursor.rowcount
