"""
Refresh the drill-down table (TherapistResult) from the checks engine.

The failing rows of therapist_state.sql are streamed with COPY from the platform
database into a temporary table of opsdash's database, then merged set-based: new
failures inserted, changed ones updated, therapists that are consistent again
deleted. The rules stay in therapist_state.sql; this module only moves rows.
"""

import psycopg
from django.db import connections, transaction
from django.db.models import Count

from consistency.catalogue import THERAPIST_PROBLEMS
from consistency.engine.checks import ALL_THERAPISTS, BY_IDS, apply_state_settings, state_sql
from consistency.models import TherapistResult
from consistency.models.results import failing_condition
from opsdash.db import PLATFORM_DB

RESULT_DB = "default"
RESULT_TABLE = TherapistResult._meta.db_table
# Every column copied from therapist_state.sql: the model's fields but failing_since,
# which opsdash keeps itself. The names are the statement's own column names.
COLUMNS = tuple(f.column for f in TherapistResult._meta.concrete_fields if f.column != "failing_since")
_COLUMN_LIST = ", ".join(COLUMNS)
_UPDATES = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "therapist_id")

# Serialise refreshes: two concurrent merges of the same therapists (a scheduled
# snapshot and a job's) could deadlock on the upsert's row locks.
_REFRESH_LOCK = 74_210_001

COPY_OUT = "copy (select {columns} from ({state}) s where not s.consistent) to stdout"
CREATE_INCOMING = (
    "drop table if exists pg_temp.incoming_result;"
    f" create temp table incoming_result on commit drop as select {_COLUMN_LIST} from {RESULT_TABLE} with no data"
)
COPY_IN = f"copy incoming_result ({_COLUMN_LIST}) from stdin"
# Only rows whose values changed are rewritten: a refresh every few minutes must not
# rewrite (and bloat) a few hundred thousand unchanged rows.
MERGE = (
    f"insert into {RESULT_TABLE} as r ({_COLUMN_LIST}, failing_since)"
    f" select {_COLUMN_LIST}, now() from incoming_result"
    f" on conflict (therapist_id) do update set {_UPDATES}"
    f" where ({', '.join('r.' + c for c in COLUMNS)}) is distinct from"
    f" ({', '.join('excluded.' + c for c in COLUMNS)})"
)
DELETE_CONSISTENT_ALL = (
    f"delete from {RESULT_TABLE} r"
    " where not exists (select 1 from incoming_result i where i.therapist_id = r.therapist_id)"
)
DELETE_CONSISTENT_IDS = DELETE_CONSISTENT_ALL + " and r.therapist_id = any(%(ids)s::uuid[])"


def refresh_results(therapist_ids=None):
    """
    Bring TherapistResult up to date with the platform and return how many therapists fail.

    1. Stream the failing therapists (all, or those of ``therapist_ids``) into a
       temporary table with COPY.
    2. Merge them in: insert new failures, update changed rows, keep failing_since.
    3. Delete the therapists of the refreshed set that are consistent now.
    """
    if therapist_ids is not None:
        therapist_ids = [str(i) for i in therapist_ids]
        if not therapist_ids:
            return 0
    if therapist_ids is None:
        therapist_filter, params = ALL_THERAPISTS, None
    else:
        therapist_filter, params = BY_IDS, {"ids": therapist_ids}
    with transaction.atomic(using=RESULT_DB), connections[RESULT_DB].cursor() as target:
        target.execute("select pg_advisory_xact_lock(%s)", [_REFRESH_LOCK])
        target.execute(CREATE_INCOMING)
        with transaction.atomic(using=PLATFORM_DB), connections[PLATFORM_DB].cursor() as source:
            apply_state_settings(source, therapist_filter)
            failing = _copy_failing(state_sql(therapist_filter), params, target)
        target.execute(MERGE)
        if therapist_ids is None:
            target.execute(DELETE_CONSISTENT_ALL)
        else:
            target.execute(DELETE_CONSISTENT_IDS, {"ids": therapist_ids})
    if therapist_ids is None:
        _vacuum()
    return failing


def _vacuum():
    """
    Vacuum and analyze the table after a full refresh.

    The drill-down's counts are index-only scans of the partial indexes only where the
    visibility map says the pages are all-visible; right after a refresh they are not,
    and a count of one check took 340 ms instead of 40 at a million therapists.
    VACUUM cannot run inside a transaction: a caller's (or a test's) gets ANALYZE only.
    """
    connection = connections[RESULT_DB]
    with connection.cursor() as cursor:
        cursor.execute(("analyze " if connection.in_atomic_block else "vacuum (analyze) ") + RESULT_TABLE)


def _copy_failing(state, params, target):
    """Stream the failing rows of the state statement into incoming_result; return their count."""
    rows = 0
    statement = bind(connections[PLATFORM_DB], COPY_OUT.format(columns=_COLUMN_LIST, state=state), params)
    # COPY is psycopg's own: wrapped, its errors are Django's, as every other statement's.
    with connections[PLATFORM_DB].wrap_database_errors, connections[PLATFORM_DB].cursor() as source:
        with source.copy(statement) as copy_out:
            with target.copy(COPY_IN) as copy_in:
                for data in copy_out:
                    copy_in.write(data)
                    rows += bytes(data).count(b"\n")
    return rows


def failing_counts():
    """
    Return how many therapists of the drill-down table fail each check or have each
    link problem, and how many there are ("failing"): after a full refresh, every
    count of the metrics but the therapists themselves (consistency.engine.checks.compute_metrics).
    """
    counts = {problem: Count("pk", filter=failing_condition(problem)) for problem in THERAPIST_PROBLEMS}
    return TherapistResult.objects.aggregate(failing=Count("pk"), **counts)


def bind(connection, statement, params):
    """
    Return ``statement`` with ``params`` bound into it, as psycopg binds them client-side.

    COPY goes through Django's cursor wrapper, and under DEBUG its CursorDebugWrapper,
    whose copy() takes the statement alone: the parameters must already be in it.
    """
    if not params:
        return statement
    connection.ensure_connection()
    with psycopg.ClientCursor(connection.connection) as cursor:
        return cursor.mogrify(statement, params)


def failing(problem):
    """Return the therapists that fail a check or have a link problem, as last refreshed."""
    return TherapistResult.objects.filter(failing_condition(problem))
