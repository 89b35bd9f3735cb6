"""
The repair engine: docs/rules.md §4, what "fix all" and "resync one therapist" write.

The rules live in SQL (consistency/sql/repair_plan.sql, repair_apply.sql), driven by
the checks' own therapist-state statement, so one statement repairs one therapist or
a chunk of thousands. A repair of a set of therapists runs in one transaction of the
platform database:

1. the plan (canonical values, what to fix, what changes, the version of each row it
   read) goes into a temporary table;
2. one UPDATE per table writes it, each row only while it is still the version the
   plan read; the rows the written values come from are locked and compared
   beforehand, and a therapist with a row changed since the plan is planned again
   and written in another round, so no value is written from a row that changed
   after it was read (no lost update: _write_guarded gives the argument); if an
   UPDATE fails, the UPDATEs run again one therapist at a time, each in a
   savepoint, and a therapist that still fails is logged to manual_intervention_log
   while the others go on (graceful degradation);
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
from uuid import UUID

from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction
from django.db.backends.utils import CursorWrapper
from psycopg import errors as pg_errors

from consistency import catalogue
from consistency.catalogue import CHECK_NAMES, THERAPIST_LINK_PROBLEM_NAMES, THERAPIST_PROBLEMS
from consistency.engine.checks import (
    ALL_THERAPISTS,
    BY_IDS,
    BY_NORMALISED_EMAIL,
    FILTERS,
    apply_state_settings,
    email_selection,
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

# The plan_filter fragment of repair_apply.sql for one therapist.
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
    # The therapists' state as the plan read it, before any write: how many there are,
    # are consistent, and fail each check and therapist link problem.
    metrics: dict = field(default_factory=dict)

    def totals(self) -> dict:
        """Return the counts as the fields of a JobRun or JobChunk of the same names."""
        return {
            "therapists_changed": self.therapists_changed,
            "therapists_failed": len(self.failures),
            "rows_changed": self.rows_changed,
            "interventions_logged": self.interventions_logged,
            "interventions_resolved": self.interventions_resolved,
        }

    @property
    def rows_changed_total(self) -> int:
        return sum(sum(columns.values()) for columns in self.rows_changed.values())


def empty_counts() -> dict[str, dict[str, int]]:
    """Return rows changed per table and column, all zero."""
    counts: dict[str, dict[str, int]] = {table: {} for table in TABLES}
    for table, column, _, _ in COLUMNS:
        counts[table][column] = 0
    return counts


def add_counts(total: dict, counts: dict) -> dict:
    """Add ``counts`` (rows changed per table and column) into ``total``; return it."""
    for table, columns in counts.items():
        for column, count in columns.items():
            total.setdefault(table, {})
            total[table][column] = total[table].get(column, 0) + count
    return total


def plan_sql(therapist_filter: str, keyed: bool = False) -> str:
    """Return the repair plan of the therapists one of the fixed filters selects (``keyed``: see state_sql)."""
    return load_sql("repair_plan.sql").replace("{therapist_state}", state_sql(therapist_filter, keyed))


def _counts_sql(alias, written=None):
    """
    Return the select list over the plan (as ``alias``) counting therapists, changes per
    column, changed therapists, and the state before the repair (see _metrics_from_counts).

    ``written(table)`` is the SQL condition "this therapist's row of that table was
    written"; without it (a dry run) the plan's flags alone say what would be.
    """
    if written is None:
        written = _changes_in
    items = ["count(*) as therapists", f"count(*) filter (where {alias}.consistent) as consistent"]
    for problem in THERAPIST_PROBLEMS.values():
        items.append(f'count(*) filter (where {problem.failing_sql(alias)}) as "before.{problem.name}"')
    for table, column, _, _ in COLUMNS:
        label = _count_label(table, column)
        items.append(f'count(*) filter (where ({written(table)}) and {_flag(table, column)}) as "{label}"')
    any_table = " or ".join(f"({written(table)})" for table in TABLES)
    items.append(f"count(*) filter (where {any_table}) as therapists_changed")
    return ",\n       ".join(items)


def _changes_in(table=None):
    """Return the SQL condition "the plan changes a column (of ``table``)"."""
    return " or ".join(_flag(t, column) for t, column, _, _ in COLUMNS if table in (None, t))


# The end of each statement of repair_apply.sql, after its "changed" UPDATE: record the
# therapists whose row of the table was written, and those the plan meant to write
# whose UPDATE skipped the row (it changed since the plan).
_RECORD_SQL = """,
written as (
    insert into repair_written (therapist_id, users, enrollments, profiles)
    select therapist_id, {flags} from changed
    on conflict (therapist_id) do update set {flag} = true
)
insert into repair_skipped (therapist_id)
select p.therapist_id
from repair_plan p
where ({plan_filter}) and {writes}
  and not exists (select 1 from repair_skipped s where s.therapist_id = p.therapist_id)
  and not exists (select 1 from changed c where c.therapist_id = p.therapist_id)"""


def _apply_statements(plan_filter):
    """Return the three UPDATE statements of repair_apply.sql restricted by a plan filter."""
    sql = load_sql("repair_apply.sql")
    for table in TABLES:
        flag = _WRITTEN_FLAG[table]
        flags = ", ".join("true" if t == table else "false" for t in TABLES)
        record = _RECORD_SQL.format(flags=flags, flag=flag, plan_filter="{plan_filter}", writes=_writes(table))
        sql = sql.replace("\n{record_" + flag + "}", record)
    return sql.replace("{plan_filter}", plan_filter).split(";\n\n")


def create_work_tables(cursor: CursorWrapper) -> None:
    """Create the temporary tables repair_apply.sql records what it wrote and skipped in."""
    cursor.execute(
        "create temporary table repair_written (therapist_id uuid primary key,"
        " users boolean, enrollments boolean, profiles boolean) on commit drop"
    )
    cursor.execute("create temporary table repair_skipped (therapist_id uuid primary key) on commit drop")


def apply_plan(cursor: CursorWrapper, plan_filter: str = "true", params: dict | None = None) -> None:
    """Run repair_apply.sql's UPDATEs on the plan in repair_plan (the work tables created)."""
    for statement in _apply_statements(plan_filter):
        cursor.execute(statement, params or {})


_WRITTEN_COUNTS_SQL = (
    f"select {_counts_sql('p', lambda table: 'w.' + _WRITTEN_FLAG[table])}\n"
    "from repair_plan p left join repair_written w on w.therapist_id = p.therapist_id"
)


def _dry_run_sql(therapist_filter, keyed=False):
    return f"with plan as (\n{plan_sql(therapist_filter, keyed)}\n)\nselect {_counts_sql('plan')}\nfrom plan"


def _result_from_counts(row):
    counts = empty_counts()
    for table, column, _, _ in COLUMNS:
        counts[table][column] = row[_count_label(table, column)]
    return RepairResult(
        therapists=row["therapists"],
        therapists_changed=row["therapists_changed"],
        rows_changed=counts,
        metrics=_metrics_from_counts(row),
    )


def _metrics_from_counts(row):
    """
    Return the plan's state before the repair, in the shape of the metrics
    (consistency.engine.checks.compute_metrics) but for the therapists planned alone:
    duplicate-user counts therapists here, and there is no orphan-enrollment.
    """
    return {
        "therapists": row["therapists"],
        "consistent": row["consistent"],
        "inconsistent": {name: row[f"before.{name}"] for name in CHECK_NAMES},
        "link_problems": {name: row[f"before.{name}"] for name in THERAPIST_LINK_PROBLEM_NAMES},
    }


def add_metrics(total: dict, part: dict) -> dict:
    """Add the state counts ``part`` (RepairResult.metrics) into ``total``; return it."""
    for key, value in part.items():
        if isinstance(value, dict):
            add_metrics(total.setdefault(key, {}), value)
        else:
            total[key] = total.get(key, 0) + value
    return total


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


def chunk_bounds(size: int, using: str = PLATFORM_DB) -> list[tuple[str, str]]:
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


def therapist_ids_for_email(email: str, using: str = PLATFORM_DB) -> list[UUID]:
    """Return the ids of the therapists whose normalised email is this one's (docs/rules.md §2)."""
    therapist_filter, params, _ = email_selection(email, using)
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"select u.id from users u where u.user_type = 'therapist' and ({therapist_filter}) order by 1", params
        )
        return [row[0] for row in cursor.fetchall()]


def repair_range(
    after: str,
    upto: str,
    dry_run: bool = False,
    job_id: int | None = None,
    using: str = PLATFORM_DB,
    keys: dict | None = None,
) -> RepairResult:
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


def repair_email(
    email: str, dry_run: bool = False, job_id: int | None = None, using: str = PLATFORM_DB
) -> RepairResult:
    """Repair the therapists with this normalised email (a resync)."""
    return repair(BY_NORMALISED_EMAIL, {"email": email}, dry_run=dry_run, job_id=job_id, using=using)


def repair(
    therapist_filter: str,
    params: dict,
    dry_run: bool = False,
    job_id: int | None = None,
    using: str = PLATFORM_DB,
    keyed: bool = False,
) -> RepairResult:
    """
    Repair the therapists a fixed filter selects, in one transaction; return a RepairResult.

    1. Plan: the therapist-state statement and the rules, into a temporary table.
    2. Write: one UPDATE per table, guarded by the version of each row the plan read;
       the therapists whose rows changed meanwhile are planned again and written in
       another round (_write_guarded); if that fails, one therapist at a time, each
       in a savepoint, a therapist still failing logged (it goes on without them).
    3. Resolve the open interventions whose problem is gone; after the commit, log the
       link problems and the failures once.
    With ``dry_run`` nothing is written: the plan is counted in a read-only transaction.
    ``keyed``: ``params`` hold the job's keys of these therapists (consistency.engine.checks.state_sql).
    A conflict with another transaction (deadlock, serialization failure, lock
    timeout) rolls everything back and starts again, up to CONFLICT_ATTEMPTS times.
    """
    assert therapist_filter in FILTERS
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


def is_conflict(exc: OperationalError) -> bool:
    """Tell whether a database error is a deadlock, a serialization failure or a lock timeout."""
    return isinstance(exc, RowsKeepChanging) or isinstance(exc.__cause__, _CONFLICTS)


def after_plan() -> None:
    """
    Called between the plan and the writes of a repair; does nothing.

    It is the point where another transaction's edit would be lost without the guard:
    the tests replace it to commit such an edit there.
    """


def _repair_once(therapist_filter, params, job_id, using, keyed):
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        apply_state_settings(cursor, therapist_filter)
        # "on commit drop" ends these with the transaction; the drop covers a repair
        # nested in a longer transaction (a test, a resync inside a request).
        cursor.execute(
            "drop table if exists pg_temp.repair_plan, pg_temp.repair_written, pg_temp.repair_skipped,"
            " pg_temp.repair_after"
        )
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
        create_work_tables(cursor)
        failures = []
        # A plan with nothing to write (a second run) neither locks nor updates.
        cursor.execute(f"select exists (select 1 from repair_plan p where {_WRITES})")
        if cursor.fetchone()[0]:
            failures = _write_guarded(cursor, keyed, params, using)
        if keyed:
            # Whether a problem is logged already is looked up among the open rows of
            # the log, which have no key to read them by.
            _read_by_key(cursor, False)
        cursor.execute(_WRITTEN_COUNTS_SQL)
        result = _result_from_counts(_fetch_dict(cursor))
        result.failures = failures
        problems, result.interventions_resolved = _read_intervention_log(cursor, job_id, params)
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
# The tables each written column's value is computed from (repair_plan.sql's rules),
# besides the written row itself: the enrollment is the source of every rule, the
# profile of the fields it is the fallback of, the user of the avatar.
_SOURCES = {
    ("users", "avatar_url"): ("therapist_enrollments", "therapist_profiles"),
    ("users", "full_name"): ("therapist_enrollments",),
    ("users", "is_active"): ("therapist_enrollments",),
    ("users", "is_verified"): ("therapist_enrollments",),
    # An unlinked enrollment is the therapist's by the user's email (docs/rules.md §2).
    ("therapist_enrollments", "user_id"): ("users",),
    ("therapist_enrollments", "profile_image_url"): ("users", "therapist_profiles"),
    ("therapist_enrollments", "bio"): ("therapist_profiles",),
    ("therapist_enrollments", "experience_years"): ("therapist_profiles",),
    ("therapist_enrollments", "specializations"): ("therapist_profiles",),
    ("therapist_profiles", "profile_image_url"): ("users", "therapist_enrollments"),
    ("therapist_profiles", "bio"): ("therapist_enrollments",),
    ("therapist_profiles", "experience_years"): ("therapist_enrollments",),
    ("therapist_profiles", "specializations"): ("therapist_enrollments",),
    ("therapist_profiles", "verification_status"): ("therapist_enrollments",),
    ("therapist_profiles", "is_verified"): ("therapist_enrollments",),
}
assert sorted(_SOURCES) == sorted((table, column) for table, column, _, _ in COLUMNS)


def _writes(table):
    """Return the SQL condition "the plan writes this therapist's row of ``table``"."""
    return f"({_changes_in(table)})"


def _needs(table):
    """Return the SQL condition "a value the plan writes comes from this therapist's row of ``table``"."""
    flags = [_flag(t, column) for (t, column), sources in _SOURCES.items() if t == table or table in sources]
    if table == "users":
        # Whatever is written for a therapist whose enrollment is unlinked, that
        # enrollment is the therapist's because of the user's email.
        flags.append(f"(p.e_user_id is null and ({_changes_in()}))")
    return " or ".join(flags)


def _locked_beforehand(table):
    """
    Return the SQL condition "this therapist's row of ``table`` is locked before the UPDATEs".

    Every row a written value comes from, except the therapist's first row to be
    written (in the order of the UPDATEs: users, enrollments, profiles): that one is
    locked and compared by its own UPDATE, before anything else of the therapist is
    written.
    """
    earlier = [_writes(t) for t in TABLES[: TABLES.index(table)]]
    first_written = " and ".join([_writes(table)] + [f"not {w}" for w in earlier])
    return f"({_needs(table)}) and not ({first_written})"


# Lock (FOR NO KEY UPDATE: it blocks every writer of the row, not the foreign-key checks
# of rows that refer to it) the planned rows of one table that are locked beforehand,
# in id order, and return the therapists whose row is gone or is not the version the
# plan read. A locking SELECT at READ COMMITTED waits for a concurrent writer and then
# returns the row as committed. The ids are looked up as an array (one index probe
# each): as "id in (select ...)" PostgreSQL merge-joined the plan with the whole
# primary-key index of enrollments and of profiles, 0.2 s per chunk each at 200,000
# therapists (EXPLAIN ANALYZE: 205,000 index entries read to lock 2,230 rows), a cost
# that grew with the tables and was most of what the lost-update protection cost.
_LOCK_SQL = """
with locked as materialized (
    select r.id, r.xmin from {table} r
    where r.id = any(array(
        select p.{row_id} from repair_plan p where ({locked}) and ({subset}) and p.{row_id} is not null
    ))
    order by r.id
    for no key update
)
select p.therapist_id
from repair_plan p
left join locked l on l.id = p.{row_id}
where ({locked}) and ({subset}) and p.{row_id} is not null
  and (l.id is null or l.xmin is distinct from p.{xmin})
"""
_LOCKS = (("users", "therapist_id", "u_xmin"), ("therapist_enrollments", "e_id", "e_xmin"),
          ("therapist_profiles", "p_id", "p_xmin"))  # fmt: skip
# A therapist whose rows keep changing (each plan finding another version) is given up
# after this many plans: the repair is then a conflict, and runs again.
_MAX_PLANS = 4


def _replan(cursor, keyed, params, ids):
    """Plan these therapists again from their rows as they are now."""
    cursor.execute("delete from repair_plan p where " + _REPLANNED, {"ids": ids})
    cursor.execute(f"insert into repair_plan\n{plan_sql(BY_IDS, keyed)}", {**params, "ids": ids})


def _lock_sources(cursor, subset, ids):
    """Lock the rows of ``subset`` locked beforehand; return the therapists whose rows changed since the plan."""
    stale = set()
    for table, row_id, xmin in _LOCKS:
        sql = _LOCK_SQL.format(table=table, row_id=row_id, xmin=xmin, locked=_locked_beforehand(table), subset=subset)
        cursor.execute(sql, {"ids": ids})
        stale.update(str(row[0]) for row in cursor.fetchall())
    return sorted(stale)


def _write_guarded(cursor, keyed, params, using):
    """
    Write the plan, never from a row that changed since the plan read it; return the failures.

    The argument, for each therapist written:
    - every value the plan writes is computed from the therapist's rows listed in
      _SOURCES and from the row it is written to, all read by the plan at a version
      (xmin) the plan keeps;
    - before the UPDATEs, every such row except the therapist's first row to be
      written is locked and compared with the plan's version (_lock_sources); a
      therapist with a changed row is planned again and its rows locked and compared
      again, before anything of it is written;
    - the first row to be written is compared by its UPDATE (t.xmin = p.<table>_xmin,
      which PostgreSQL re-checks on the newest version of a row changed concurrently)
      and locked by it; when it was changed, the UPDATE skips it and, since it comes
      first, nothing of the therapist has been written: the later UPDATEs leave the
      therapist alone (repair_skipped) and it is planned again, then locked and
      written in another round;
    - so when a row is written, every row its values come from is the version the plan
      read and is locked until the commit: no one can change it in between, and no
      value is written from a row that changed after it was read.
    Each row is locked once: by its UPDATE when it is written, beforehand when it is
    only read from (or written after another row of the same therapist).
    """
    subset, ids, failures = _ALL_PLANNED, [], []
    for _ in range(_MAX_PLANS):
        stale = _lock_sources(cursor, subset, ids)
        if not stale:
            cursor.execute("delete from repair_skipped")
            failures += _apply(cursor, using, subset, ids)
            cursor.execute("select therapist_id from repair_skipped order by therapist_id")
            stale = [str(row[0]) for row in cursor.fetchall()]
            if not stale:
                return failures
            logger.info("%d therapists changed between the plan and their UPDATE; planning them again", len(stale))
        else:
            logger.info("%d therapists changed between the plan and the locks; planning them again", len(stale))
        ids, subset = stale, _REPLANNED
        _replan(cursor, keyed, params, ids)
    raise RowsKeepChanging(f"the rows of {len(ids)} therapists kept changing while the repair wrote them")


def _apply(cursor, using, subset, ids):
    """Run repair_apply.sql on the plan's therapists of ``subset``; return the failures."""
    try:
        with transaction.atomic(using=using):
            for statement in _apply_statements(subset):
                cursor.execute(statement, {"ids": ids})
        return []
    except DatabaseError as exc:
        if _is_connection_error(exc):
            raise
        logger.warning("repair of %d therapists failed (%s); retrying one at a time", _plan_size(cursor), exc)
        return _apply_one_by_one(cursor, using, subset, ids)


def _plan_size(cursor):
    cursor.execute("select count(*) from repair_plan")
    return cursor.fetchone()[0]


def _apply_one_by_one(cursor, using, subset, ids):
    """Write the plan one therapist at a time, each in a savepoint; return the failures."""
    failures = []
    # Only therapists with something to write can fail; the ids of one chunk are few.
    cursor.execute(
        f"select therapist_id, u_email from repair_plan p where ({_changes_in()}) and ({subset}) order by therapist_id",
        {"ids": ids},
    )
    statements = _apply_statements(_ONE_THERAPIST)
    for therapist_id, email in cursor.fetchall():
        try:
            with transaction.atomic(using=using):
                for statement in statements:
                    cursor.execute(statement, {"therapist_id": therapist_id})
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
          select lower(btrim(l.entity_id)) from manual_intervention_log l
          where l.resolved is not true and ({log_filter}))
   or p.therapist_id::text in (
          select l.entity_id from manual_intervention_log l
          where l.resolved is not true and ({log_filter}))
"""
# The open interventions a repair reads: the whole log, or in a chunk of a repair-all
# those the job found for the chunk's therapists (consistency.engine.chunk_keys), by key.
_WHOLE_LOG = "true"
_BY_JOB_KEYS = "l.id = any(%(intervention_ids)s::uuid[])"


def _read_intervention_log(cursor, job_id, params):
    """
    Resolve the open interventions whose problem is gone; return (link problems to log, resolved).

    The state after this run's writes (repair_after) is the plan's state, which is
    what the link problems were and still are (a repair only links enrollments,
    which the plan says it did), except for written therapists with open
    interventions: their state is read again, so a problem just fixed counts as gone.
    Reading every therapist again would double the cost of a chunk.
    """
    keyed = "intervention_ids" in params
    log_filter = _BY_JOB_KEYS if keyed else _WHOLE_LOG
    # A chunk whose therapists had no open intervention when the job started has
    # nothing to resolve.
    may_resolve = not keyed or bool(params["intervention_ids"])
    reread = []
    if may_resolve:
        cursor.execute(_WRITTEN_WITH_OPEN_INTERVENTIONS_SQL.replace("{log_filter}", log_filter), params)
        reread = [str(row[0]) for row in cursor.fetchall()]
    before = f"""
        select {_LOG_STATE_FROM_PLAN}
        from repair_plan p
        left join repair_written w on w.therapist_id = p.therapist_id
        where p.therapist_id <> all(%(reread)s::uuid[])
    """
    sql = f"create temporary table repair_after on commit drop as\n{before}"
    if reread:
        state = state_sql(BY_IDS, keyed="unlinked_ids" in params)
        sql += f"\nunion all\nselect {', '.join(_LOG_STATE_COLUMNS)} from ({state}) s"
    cursor.execute(sql, {**params, "reread": reread, "ids": reread})
    resolved = 0
    if may_resolve:
        cursor.execute("analyze repair_after")
        cursor.execute(
            load_sql("resolve_gone.sql").replace("{log_filter}", log_filter), {**params, "note": RESOLVED_NOTE}
        )
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


def count_changes(therapist_filter: str, params: dict, using: str = PLATFORM_DB, keyed: bool = False) -> RepairResult:
    """Count what a repair would change, per table and column, writing nothing."""
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        # Read-only: PostgreSQL itself refuses any write a dry run might attempt.
        cursor.execute("set transaction read only")
        apply_state_settings(cursor, therapist_filter)
        cursor.execute(_dry_run_sql(therapist_filter, keyed), params)
        return _result_from_counts(_fetch_dict(cursor))


def preview_email(email: str, using: str = PLATFORM_DB) -> list[dict]:
    """
    Return what a resync of this email would write: [{table, column, before, after}, ...].

    Reads only; several therapists sharing the normalised email each get their rows.
    """
    therapist_filter, params, keyed = email_selection(email, using)
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute("set transaction read only")
        # Without the state statement's settings, JIT compilation alone took 3 s of a
        # 3.5 s preview at 200,000 therapists (docs/benchmarks.md).
        apply_state_settings(cursor, therapist_filter)
        cursor.execute(plan_sql(therapist_filter, keyed) + " order by therapist_id", params)
        columns = [col.name for col in cursor.description]
        plans = [dict(zip(columns, values, strict=False)) for values in cursor.fetchall()]
    changes = []
    for plan in plans:
        for table, column, before, after in COLUMNS:
            if plan[_flag(table, column)]:
                changes.append({"table": table, "column": column, "before": plan[before], "after": plan[after]})
    return changes


def log_orphan_enrollments(job_id: int | None = None, using: str = PLATFORM_DB) -> tuple[int, int]:
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


def missing_profile_values(therapist_id: str | UUID, using: str = PLATFORM_DB) -> dict:
    """Return the profile a therapist without one would get: the repair's canonical values."""
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        apply_state_settings(cursor, BY_IDS)
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


def insert_profile(values: dict, using: str = PLATFORM_DB) -> UUID | None:
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
