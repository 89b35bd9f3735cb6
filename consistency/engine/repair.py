"""
The repair engine: docs/rules.md §4, what "fix all" and "resync one therapist" write.

The rules live in SQL (consistency/sql/repair_plan.sql, repair_apply.sql), driven by
the checks' own therapist-state statement, so one statement repairs one therapist or
a chunk of thousands. A repair of a set of therapists runs in one transaction of the
platform database:

1. the plan (canonical values, what to fix, what changes) goes into a temporary table;
   the rows of the therapists it will write are then locked (FOR UPDATE, users, then
   enrollments, then profiles, each in id order) and any therapist whose rows changed
   since the plan read them is planned again, so no value is written from a row
   that changed after it was read (no lost update);
2. one UPDATE per table writes it; if that fails, the same UPDATEs run again one
   therapist at a time, each in a savepoint, and a therapist that still fails is
   logged to manual_intervention_log while the others go on (graceful degradation);
3. the intervention log is brought up to date: link problems logged once, problems
   now gone resolved (the state of written therapists with open interventions is
   read again after the writes).

A dry run computes the same plan in a read-only transaction and only counts.
A deadlock, serialization failure or lock timeout against the platform's own
transactions rolls the repair back and runs it again (CONFLICT_ATTEMPTS times).
"""

import logging
import time
from dataclasses import dataclass, field

from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction
from psycopg import errors as pg_errors

from consistency import catalogue
from consistency.engine.checks import (
    ALL_THERAPISTS,
    BY_ID_RANGE,
    BY_IDS,
    BY_NORMALISED_EMAIL,
    apply_state_settings,
    load_sql,
    normalise_email,
    state_sql,
)
from interventions.log import THERAPIST_SYNC, log_interventions, unlogged
from opsdash.db import PLATFORM_DB

logger = logging.getLogger(__name__)

# Keyset chunks cover (after, upto]; these bound the first and the last. (A therapist
# whose id is the nil UUID would be skipped; gen_random_uuid() never makes one.)
FIRST_ID = "00000000-0000-0000-0000-000000000000"
LAST_ID = "ffffffff-ffff-ffff-ffff-ffffffffffff"

# Every column a repair writes: (table, column, plan column holding the stored value,
# plan column holding the value written). The plan's chg_<u|e|p>_<column> flag says
# whether the column changes.
COLUMNS = (
    ("users", "avatar_url", "u_avatar_url", "new_avatar"),
    ("users", "full_name", "u_full_name", "e_full_name"),
    ("users", "is_active", "u_is_active", "e_is_active"),
    ("users", "is_verified", "u_is_verified", "new_u_is_verified"),
    ("therapist_enrollments", "user_id", "e_user_id", "therapist_id"),
    ("therapist_enrollments", "profile_image_url", "e_profile_image_url", "new_avatar"),
    ("therapist_enrollments", "bio", "e_bio", "new_bio"),
    ("therapist_enrollments", "experience_years", "e_experience_years", "new_experience_years"),
    ("therapist_enrollments", "specializations", "e_specializations", "new_specializations"),
    ("therapist_profiles", "profile_image_url", "p_profile_image_url", "new_avatar"),
    ("therapist_profiles", "bio", "p_bio", "new_bio"),
    ("therapist_profiles", "experience_years", "p_experience_years", "new_experience_years"),
    ("therapist_profiles", "specializations", "p_specializations", "new_specializations"),
    ("therapist_profiles", "verification_status", "p_verification_status", "e_status"),
    ("therapist_profiles", "is_verified", "p_is_verified", "new_p_is_verified"),
)
TABLES = ("users", "therapist_enrollments", "therapist_profiles")
_PREFIX = {"users": "u", "therapist_enrollments": "e", "therapist_profiles": "p"}
# repair_written's flag of each table: the therapist's row of it was written.
_WRITTEN_FLAG = {"users": "users", "therapist_enrollments": "enrollments", "therapist_profiles": "profiles"}

# The plan_filter fragments of repair_apply.sql.
_WHOLE_PLAN = "true"
_ONE_THERAPIST = "p.therapist_id = %(therapist_id)s::uuid"

RESOLVED_NOTE = "Found consistent by an opsdash repair; resolved automatically."


def _flag(table, column):
    return f"chg_{_PREFIX[table]}_{column}"


def _count_label(table, column):
    return f"{table}.{column}"


@dataclass
class Failure:
    """A therapist whose repair failed even on its own."""

    therapist_id: str
    email: str
    error: str


@dataclass
class RepairResult:
    """What a repair of a set of therapists did (or, in a dry run, would do)."""

    therapists: int = 0
    therapists_changed: int = 0
    rows_changed: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)
    interventions_logged: int = 0
    interventions_resolved: int = 0

    def totals(self):
        """Return the counts as the fields of a JobRun or JobChunk of the same names."""
        return {
            "therapists_changed": self.therapists_changed,
            "therapists_failed": len(self.failures),
            "rows_changed": self.rows_changed,
            "interventions_logged": self.interventions_logged,
            "interventions_resolved": self.interventions_resolved,
        }

    @property
    def rows_changed_total(self):
        return sum(sum(columns.values()) for columns in self.rows_changed.values())


def empty_counts():
    """Return rows changed per table and column, all zero."""
    counts = {table: {} for table in TABLES}
    for table, column, _, _ in COLUMNS:
        counts[table][column] = 0
    return counts


def add_counts(total, counts):
    """Add ``counts`` (rows changed per table and column) into ``total``; return it."""
    for table, columns in counts.items():
        for column, count in columns.items():
            total.setdefault(table, {})
            total[table][column] = total[table].get(column, 0) + count
    return total


def plan_sql(therapist_filter, keyed=False):
    """Return the repair plan of the therapists one of the fixed filters selects (``keyed``: see state_sql)."""
    return load_sql("repair_plan.sql").replace("{therapist_state}", state_sql(therapist_filter, keyed))


def _counts_sql(written=None):
    """
    Return the select list counting therapists, changes per column and changed therapists.

    ``written(table)`` is the SQL condition "this therapist's row of that table was
    written"; without it (a dry run) the plan's flags alone say what would be.
    """
    if written is None:
        written = _changes_in
    items = ["count(*) as therapists"]
    for table, column, _, _ in COLUMNS:
        label = _count_label(table, column)
        items.append(f'count(*) filter (where ({written(table)}) and {_flag(table, column)}) as "{label}"')
    any_table = " or ".join(f"({written(table)})" for table in TABLES)
    items.append(f"count(*) filter (where {any_table}) as therapists_changed")
    return ",\n       ".join(items)


def _changes_in(table=None):
    """Return the SQL condition "the plan changes a column (of ``table``)"."""
    return " or ".join(_flag(t, column) for t, column, _, _ in COLUMNS if table in (None, t))


def _apply_sql(plan_filter):
    return load_sql("repair_apply.sql").replace("{plan_filter}", plan_filter)


_WRITTEN_COUNTS_SQL = (
    f"select {_counts_sql(lambda table: 'w.' + _WRITTEN_FLAG[table])}\n"
    "from repair_plan p left join repair_written w on w.therapist_id = p.therapist_id"
)


def _dry_run_sql(therapist_filter, keyed=False):
    return f"with plan as (\n{plan_sql(therapist_filter, keyed)}\n)\nselect {_counts_sql()}\nfrom plan"


def _result_from_counts(row):
    counts = empty_counts()
    for table, column, _, _ in COLUMNS:
        counts[table][column] = row[_count_label(table, column)]
    return RepairResult(therapists=row["therapists"], therapists_changed=row["therapists_changed"], rows_changed=counts)


def _fetch_dict(cursor):
    columns = [col.name for col in cursor.description]
    return dict(zip(columns, cursor.fetchone(), strict=False))


def _is_connection_error(exc):
    # Lost connections, deadlocks and timeouts are for the task to retry; anything
    # else (a constraint, a bad value) is about the data and goes to the fallback.
    return isinstance(exc, (OperationalError, InterfaceError))


def _read_by_key(cursor, on):
    """
    Turn sequential scans off (or on again) for the rest of a keyed chunk's transaction.

    A keyed chunk reads every row it needs by key (its therapists by id, their
    enrollments and profiles by user_id, the job's keys by id), locks and writes the
    rows of its plan by id, so its cost does not grow with the tables (the
    intervention log, read whole, is read with sequential scans on again). PostgreSQL
    would still scan all of users, enrollments and profiles for a few thousand ids
    while a table is small enough: measured with EXPLAIN (ANALYZE, BUFFERS) at
    200,000 therapists, the plan took 0.2-0.45 s by key and 0.2-1.1 s with the scan,
    and each lock statement read its whole table (0.35-0.45 s each, growing with it).
    """
    cursor.execute("select set_config('enable_seqscan', %s, true)", ["off" if on else "on"])


def chunk_bounds(size, using=PLATFORM_DB):
    """
    Return the keyset chunks of every therapist: [(after, upto), ...] covering all ids.

    Only the boundaries (every size-th therapist id) come back to Python. The last
    chunk runs to the greatest possible id, so therapists added meanwhile are covered.
    """
    sql = """
        select id from (
            select id, row_number() over (order by id) as position
            from users where user_type = 'therapist'
        ) numbered
        where position %% %(size)s = 0
        order by id
    """
    with connections[using].cursor() as cursor:
        cursor.execute(sql, {"size": size})
        boundaries = [str(row[0]) for row in cursor.fetchall()]
    starts = [FIRST_ID] + boundaries
    ends = boundaries + [LAST_ID]
    return list(zip(starts, ends, strict=False))


def therapist_ids_for_email(email, using=PLATFORM_DB):
    """Return the ids of the therapists whose normalised email is this one's (docs/rules.md §2)."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "select id from users where user_type = 'therapist' and lower(btrim(email)) = lower(btrim(%(email)s))"
            " order by id",
            {"email": email},
        )
        return [row[0] for row in cursor.fetchall()]


def repair_range(after, upto, dry_run=False, job_id=None, using=PLATFORM_DB, keys=None):
    """
    Repair the therapists with after < id <= upto (one chunk of a repair-all).

    ``keys`` are the chunk's share of what the job looked up once by normalised email
    (consistency.engine.chunk_keys); without them the chunk looks it up over the whole tables.

    The chunk is handed to the state statement as its list of ids (BY_IDS), not as
    the range (BY_ID_RANGE): PostgreSQL cannot interpolate uuids inside a histogram
    bucket, so it estimates a range of a few thousand therapists at one row and
    nests loops over whole tables (minutes instead of a second). A few thousand ids
    of one chunk are all that come to Python.
    """
    with connections[using].cursor() as cursor:
        cursor.execute(
            "select id from users where user_type = 'therapist' and id > %(after)s::uuid and id <= %(upto)s::uuid",
            {"after": after, "upto": upto},
        )
        ids = [str(row[0]) for row in cursor.fetchall()]
    if not ids:
        return RepairResult(rows_changed=empty_counts())
    keyed = keys is not None
    params = {"ids": ids, **(keys or {})}
    return repair(BY_IDS, params, dry_run=dry_run, job_id=job_id, using=using, keyed=keyed)


def repair_email(email, dry_run=False, job_id=None, using=PLATFORM_DB):
    """Repair the therapists with this normalised email (a resync)."""
    return repair(BY_NORMALISED_EMAIL, {"email": email}, dry_run=dry_run, job_id=job_id, using=using)


def repair(therapist_filter, params, dry_run=False, job_id=None, using=PLATFORM_DB, keyed=False):
    """
    Repair the therapists a fixed filter selects, in one transaction; return a RepairResult.

    1. Plan: the therapist-state statement and the rules, into a temporary table; lock
       the rows to be written and plan again the therapists whose rows changed meanwhile.
    2. Write: one UPDATE per table; if that fails, one therapist at a time, each in a
       savepoint, a therapist still failing logged (it goes on without them).
    3. Resolve the open interventions whose problem is gone; after the commit, log the
       link problems and the failures once.
    With ``dry_run`` nothing is written: the plan is counted in a read-only transaction.
    ``keyed``: ``params`` hold the job's keys of these therapists (consistency.engine.checks.state_sql).
    A conflict with another transaction (deadlock, serialization failure, lock
    timeout) rolls everything back and starts again, up to CONFLICT_ATTEMPTS times.
    """
    assert therapist_filter in (ALL_THERAPISTS, BY_IDS, BY_ID_RANGE, BY_NORMALISED_EMAIL)
    if dry_run:
        return count_changes(therapist_filter, params, using=using, keyed=keyed)
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            return _repair_once(therapist_filter, params, job_id, using, keyed)
        except OperationalError as exc:
            if not is_conflict(exc) or attempt == CONFLICT_ATTEMPTS:
                raise
            logger.info("repair conflicted with another transaction (%s); attempt %d again", exc, attempt + 1)
            time.sleep(CONFLICT_PAUSE * attempt)
    raise AssertionError("unreachable")


# A conflict with the platform's own transactions: the repair is run again.
CONFLICT_ATTEMPTS = 5
CONFLICT_PAUSE = 0.2  # seconds, times the attempt number
_CONFLICTS = (pg_errors.DeadlockDetected, pg_errors.TransactionRollback, pg_errors.LockNotAvailable)


class RowsKeepChanging(OperationalError):
    """The rows of some therapists changed at every plan: the repair is run again."""


def is_conflict(exc):
    """Tell whether a database error is a deadlock, a serialization failure or a lock timeout."""
    return isinstance(exc, RowsKeepChanging) or isinstance(exc.__cause__, _CONFLICTS)


def after_plan():
    """
    Called between the plan and the locks of a repair; does nothing.

    It is the point where another transaction's edit would be lost without the locks:
    the tests replace it to commit such an edit there.
    """


def _repair_once(therapist_filter, params, job_id, using, keyed):
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        apply_state_settings(cursor, therapist_filter)
        # "on commit drop" ends these with the transaction; the drop covers a repair
        # nested in a longer transaction (a test, a resync inside a request).
        cursor.execute("drop table if exists pg_temp.repair_plan, pg_temp.repair_written, pg_temp.repair_after")
        if keyed:
            _read_by_key(cursor, True)
        cursor.execute(
            f"create temporary table repair_plan on commit drop as\n{plan_sql(therapist_filter, keyed)}", params
        )
        cursor.execute("create index on repair_plan (therapist_id)")
        # The statements that follow join the plan by these; statistics of its ~80
        # other columns took a second per chunk to gather and served nothing.
        cursor.execute("analyze repair_plan (therapist_id, e_id, p_id)")
        after_plan()
        cursor.execute(
            "create temporary table repair_written (therapist_id uuid primary key,"
            " users boolean, enrollments boolean, profiles boolean) on commit drop"
        )
        failures = []
        # A plan with nothing to write (a second run) neither locks nor updates.
        cursor.execute(f"select exists (select 1 from repair_plan p where {_WRITES})")
        if cursor.fetchone()[0]:
            _lock_planned_rows(cursor, keyed, params)
            try:
                with transaction.atomic(using=using):
                    cursor.execute(_apply_sql(_WHOLE_PLAN))
            except DatabaseError as exc:
                if _is_connection_error(exc):
                    raise
                logger.warning("repair of %d therapists failed (%s); retrying one at a time", _plan_size(cursor), exc)
                failures = _apply_one_by_one(cursor, using)
        if keyed:
            # The intervention log has no key to read it by: it is read whole.
            _read_by_key(cursor, False)
        cursor.execute(_WRITTEN_COUNTS_SQL)
        result = _result_from_counts(_fetch_dict(cursor))
        result.failures = failures
        problems, result.interventions_resolved = _read_intervention_log(cursor, job_id, keyed, params)
    # Logged once the writes are committed, in short transactions (interventions.log);
    # a chunk redelivered after a crash in between finds the same problems again.
    result.interventions_logged = log_interventions(problems + _failure_entries(failures, job_id), using=using)
    return result


# The therapists repair_apply.sql may write: those with a field to fix. The others'
# rows are neither locked nor written, whatever happens to them meanwhile.
_WRITES = (
    "(p.fix_avatar or p.fix_bio or p.fix_experience or p.fix_verification or p.fix_active"
    " or p.fix_name or p.fix_specializations or p.fix_link)"
)
_ALL_PLANNED = "true"
_REPLANNED = "p.therapist_id = any(%(ids)s::uuid[])"
# Lock the planned row of each table that is written (users, then enrollments, then
# profiles: one order for every repair, each in id order) and return the therapists
# whose row is gone or is not the version the plan read. FOR UPDATE at READ
# COMMITTED waits for a concurrent writer and then returns the row as committed.
_LOCK_SQL = """
with locked as materialized (
    select r.id, r.xmin from {table} r
    where r.id in (select p.{row_id} from repair_plan p where {writes} and ({subset}))
    order by r.id
    for update
)
select p.therapist_id
from repair_plan p
left join locked l on l.id = p.{row_id}
where {writes} and ({subset}) and p.{row_id} is not null
  and (l.id is null or l.xmin is distinct from p.{xmin})
"""
_LOCKS = (("users", "therapist_id", "u_xmin"), ("therapist_enrollments", "e_id", "e_xmin"),
          ("therapist_profiles", "p_id", "p_xmin"))  # fmt: skip
# A therapist whose rows keep changing under the locks (each plan finding another
# canonical enrollment) is given up after this many plans: the repair is then a conflict.
_MAX_PLANS = 4


def _lock_planned_rows(cursor, keyed, params):
    """
    Lock the rows the plan writes; plan again the therapists whose rows changed since.

    Locked rows cannot change until the repair commits, so a therapist planned again
    after its rows are locked is planned from what the UPDATEs will find. A new plan
    may pick another canonical enrollment, so its rows are locked and compared again.
    """
    subset, ids = _ALL_PLANNED, []
    for _ in range(_MAX_PLANS):
        stale = set()
        for table, row_id, xmin in _LOCKS:
            sql = _LOCK_SQL.format(table=table, row_id=row_id, xmin=xmin, writes=_WRITES, subset=subset)
            cursor.execute(sql, {"ids": ids})
            stale.update(str(row[0]) for row in cursor.fetchall())
        if not stale:
            return
        ids, subset = sorted(stale), _REPLANNED
        logger.info("%d therapists changed between the plan and the locks; planning them again", len(ids))
        cursor.execute("delete from repair_plan p where " + _REPLANNED, {"ids": ids})
        cursor.execute(f"insert into repair_plan\n{plan_sql(BY_IDS, keyed)}", {**params, "ids": ids})
    raise RowsKeepChanging(f"the rows of {len(ids)} therapists kept changing while the repair locked them")


def _plan_size(cursor):
    cursor.execute("select count(*) from repair_plan")
    return cursor.fetchone()[0]


def _apply_one_by_one(cursor, using):
    """Write the plan one therapist at a time, each in a savepoint; return the failures."""
    failures = []
    # Only therapists with something to write can fail; the ids of one chunk are few.
    cursor.execute(f"select therapist_id, u_email from repair_plan where {_changes_in()} order by therapist_id")
    one_sql = _apply_sql(_ONE_THERAPIST)
    for therapist_id, email in cursor.fetchall():
        try:
            with transaction.atomic(using=using):
                cursor.execute(one_sql, {"therapist_id": therapist_id})
        except DatabaseError as exc:
            if _is_connection_error(exc):
                raise
            failures.append(Failure(str(therapist_id), email, str(exc).strip()))
    return failures


# The therapist-state columns the intervention log needs (link_problems.sql, resolve_gone.sql).
_LOG_STATE_COLUMNS = ("therapist_id", "norm_email", "u_email", "e_id", "p_id", "enrollment_count", *catalogue.FLAGS)
# Their values after the writes, from the plan: only the link may have changed.
_LOG_STATE_FROM_PLAN = ", ".join(
    "p.unlinked_enrollment and not coalesce(p.fix_link and w.enrollments, false) as unlinked_enrollment"
    if column == "unlinked_enrollment"
    else f"p.{column}"
    for column in _LOG_STATE_COLUMNS
)

# Therapists this run wrote that have open interventions (logged by email or by user
# id): the only ones whose state must be read again to see what is gone now. Two
# hashed subplans; an OR inside one join would compare every pair.
_WRITTEN_WITH_OPEN_INTERVENTIONS_SQL = """
select p.therapist_id
from repair_plan p
join repair_written w on w.therapist_id = p.therapist_id
where p.norm_email in (
          select lower(btrim(entity_id)) from manual_intervention_log where resolved is not true)
   or p.therapist_id::text in (
          select entity_id from manual_intervention_log where resolved is not true)
"""


def _read_intervention_log(cursor, job_id, keyed, params):
    """
    Resolve the open interventions whose problem is gone; return (link problems to log, resolved).

    The state after this run's writes (repair_after) is the plan's state, which is
    what the link problems were and still are (a repair only links enrollments,
    which the plan says it did), except for written therapists with open
    interventions: their state is read again, so a problem just fixed counts as gone.
    Reading every therapist again would double the cost of a chunk.
    """
    cursor.execute(_WRITTEN_WITH_OPEN_INTERVENTIONS_SQL)
    reread = [str(row[0]) for row in cursor.fetchall()]
    before = f"""
        select {_LOG_STATE_FROM_PLAN}
        from repair_plan p
        left join repair_written w on w.therapist_id = p.therapist_id
        where p.therapist_id <> all(%(reread)s::uuid[])
    """
    sql = f"create temporary table repair_after on commit drop as\n{before}"
    if reread:
        sql += f"\nunion all\nselect {', '.join(_LOG_STATE_COLUMNS)} from ({state_sql(BY_IDS, keyed)}) s"
    cursor.execute(sql, {**params, "reread": reread, "ids": reread})
    cursor.execute("analyze repair_after")
    cursor.execute(load_sql("resolve_gone.sql"), {"note": RESOLVED_NOTE})
    resolved = cursor.fetchone()[0]
    return unlogged(cursor, load_sql("link_problems.sql"), {"job_id": job_id}), resolved


def _failure_entries(failures, job_id):
    for failure in failures:
        logger.error("repair of therapist %s <%s> failed: %s", failure.therapist_id, failure.email, failure.error)
    return [
        {
            "operation": THERAPIST_SYNC,
            "entity_id": normalise_email(failure.email),
            "error": f"Repair failed: {failure.error}",
            "payload": {"user_id": failure.therapist_id, "email": failure.email, "job": job_id},
        }
        for failure in failures
    ]


def count_changes(therapist_filter, params, using=PLATFORM_DB, keyed=False):
    """Count what a repair would change, per table and column, writing nothing."""
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        # Read-only: PostgreSQL itself refuses any write a dry run might attempt.
        cursor.execute("set transaction read only")
        apply_state_settings(cursor, therapist_filter)
        cursor.execute(_dry_run_sql(therapist_filter, keyed), params)
        return _result_from_counts(_fetch_dict(cursor))


def preview_email(email, using=PLATFORM_DB):
    """
    Return what a resync of this email would write: [{table, column, before, after}, ...].

    Reads only; several therapists sharing the normalised email each get their rows.
    """
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute("set transaction read only")
        cursor.execute(plan_sql(BY_NORMALISED_EMAIL) + " order by therapist_id", {"email": email})
        columns = [col.name for col in cursor.description]
        plans = [dict(zip(columns, values, strict=False)) for values in cursor.fetchall()]
    changes = []
    for plan in plans:
        for table, column, before, after in COLUMNS:
            if plan[_flag(table, column)]:
                changes.append({"table": table, "column": column, "before": plan[before], "after": plan[after]})
    return changes


def log_orphan_enrollments(job_id=None, using=PLATFORM_DB):
    """Log each orphan enrollment once and resolve the orphans now gone; return (logged, resolved)."""
    note = f"No orphan enrollment left for this email. {RESOLVED_NOTE}"
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        # A pass over every enrollment, as the metrics of everyone are.
        apply_state_settings(cursor, ALL_THERAPISTS)
        # Computed once into a table the planner knows the size of: estimated at a few
        # hundred rows, the orphans were compared with every open intervention in a
        # nested loop (two minutes at 1,000,000 therapists instead of seconds).
        cursor.execute("drop table if exists pg_temp.repair_orphans")
        cursor.execute(f"create temporary table repair_orphans on commit drop as\n{load_sql('orphan_enrollments.sql')}")
        cursor.execute("analyze repair_orphans")
        cursor.execute(load_sql("resolve_orphans.sql"), {"note": note})
        resolved = cursor.rowcount
        problems = unlogged(cursor, load_sql("orphan_problems.sql"), {"job_id": job_id})
    return log_interventions(problems, using=using), resolved


# ------------------------------------------------------------------------------
# Create a missing profile (docs/rules.md §4 operator action, never automatic)
# ------------------------------------------------------------------------------
# The enrollment's licensed qualification, under either name the platform has used;
# the profile's column is varchar(50).
_QUALIFICATION_COLUMNS = ("licensed_qualification", "mdcn_code")


def _enrollment_qualification(cursor, enrollment_id):
    cursor.execute(
        "select column_name from information_schema.columns"
        " where table_schema = current_schema() and table_name = 'therapist_enrollments'"
        " and column_name = any(%(names)s)",
        {"names": list(_QUALIFICATION_COLUMNS)},
    )
    present = {row[0] for row in cursor.fetchall()}
    columns = [name for name in _QUALIFICATION_COLUMNS if name in present]
    if not columns:
        return None
    # Column names come from the fixed list above, never from input.
    choices = ", ".join(f"nullif(btrim({name}), '')" for name in columns)
    cursor.execute(
        f"select left(coalesce({choices}), 50) from therapist_enrollments where id = %(id)s", {"id": enrollment_id}
    )
    row = cursor.fetchone()
    return row[0] if row else None


def missing_profile_values(therapist_id, using=PLATFORM_DB):
    """Return the profile a therapist without one would get: the repair's canonical values."""
    with connections[using].cursor() as cursor:
        cursor.execute(plan_sql(BY_IDS), {"ids": [str(therapist_id)]})
        plan = _fetch_dict(cursor)
        qualification = _enrollment_qualification(cursor, plan["e_id"])
    return {
        "user_id": plan["therapist_id"],
        "licensed_qualification": qualification,
        "bio": plan["new_bio"],
        "experience_years": plan["new_experience_years"],
        "specializations": plan["new_specializations"],
        "profile_image_url": plan["new_avatar"],
        "verification_status": plan["e_status"],
        "is_verified": plan["new_p_is_verified"],
    }


def insert_profile(values, using=PLATFORM_DB):
    """Insert a therapist's profile unless it has one by now; return the new id or None."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            """
            insert into therapist_profiles (user_id, licensed_qualification, bio, experience_years,
                                            specializations, profile_image_url, verification_status, is_verified)
            values (%(user_id)s, %(licensed_qualification)s, %(bio)s, %(experience_years)s,
                    %(specializations)s, %(profile_image_url)s, %(verification_status)s, %(is_verified)s)
            on conflict (user_id) do nothing
            returning id
            """,
            values,
        )
        row = cursor.fetchone()
        return row[0] if row else None
