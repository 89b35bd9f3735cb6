"""
The checks engine: docs/rules.md §2 (who is a therapist, how rows link) and §3 (the checks).

Every rule lives in consistency/sql/therapist_state.sql, a single set-based statement
that returns one row per therapist. The same statement answers for one therapist (a
resync), a chunk (a repair) and everyone (the metrics), so the rules exist once.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.db import connections, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from consistency import catalogue
from consistency.catalogue import CHECKS, LINK_PROBLEMS
from consistency.engine import email_keys
from interventions.queue import unresolved_count
from opsdash.db import PLATFORM_DB, fetch_dicts

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

# The fixed WHERE fragments of therapist_state.sql; values are always bound.
ALL_THERAPISTS = "true"
BY_IDS = "u.id = any(%(ids)s::uuid[])"
# Keyset chunk of a repair: the therapists with after < id <= upto.
BY_ID_RANGE = "u.id > %(after)s::uuid and u.id <= %(upto)s::uuid"
BY_NORMALISED_EMAIL = "lower(btrim(u.email)) = lower(btrim(%(email)s))"
# One normalised email's therapists among users found by key (consistency.engine.email_keys).
BY_KEYS_OF_EMAIL = "u.id = any(%(ids)s::uuid[]) and lower(btrim(u.email)) = %(norm_email)s"
FILTERS = (ALL_THERAPISTS, BY_IDS, BY_ID_RANGE, BY_NORMALISED_EMAIL, BY_KEYS_OF_EMAIL)

# Settings for the transaction that runs therapist_state.sql, applied with SET LOCAL so
# they end with it (and work through a transaction-mode connection pooler, which a
# connection-wide option would not). Measured in docs/benchmarks.md, "Checks engine".
# - jit off: PostgreSQL compiles the statement's ~130 expressions whenever its cost
#   estimate passes jit_above_cost, which it always does (users and enrollments are
#   scanned), and compiling takes 0.1-1.5 s: more than one chunk or one therapist takes
#   without it, and no less than it saves over a million therapists.
# - enable_nestloop off, over everyone only: PostgreSQL cannot estimate how many distinct
#   normalised emails a CTE holds (it assumes 200), so where an expression index on
#   lower(btrim(email)) exists it would look a million therapists up one at a time
#   (twice the time). Over everyone every join is best hashed; the LATERAL list and
#   the twin lookup stay nested, having no other way.
STATE_SETTINGS = {"jit": "off"}
ALL_THERAPISTS_SETTINGS = {**STATE_SETTINGS, "enable_nestloop": "off"}


@cache
def load_sql(name: str) -> str:
    """Return the text of a shipped SQL file."""
    return (SQL_DIR / name).read_text()


# The lookups by normalised email of therapist_state.sql: over the whole tables, or
# among the rows a repair-all job found for the chunk once (consistency.engine.chunk_keys),
# bound as %(unlinked_ids)s and %(twin_ids)s.
WHOLE_TABLES = {"unlinked_filter": "true", "twin_filter": "true"}
BY_JOB_KEYS = {
    "unlinked_filter": "e.id = any(%(unlinked_ids)s::uuid[])",
    "twin_filter": "o.id = any(%(twin_ids)s::uuid[])",
}


def state_sql(therapist_filter: str, keyed: bool = False) -> str:
    """
    Return the therapist-state statement restricted by one of the fixed filters.

    ``keyed``: the unlinked enrollments and the users of other spellings are read by
    key from the job's keys (params unlinked_ids and twin_ids) instead of being
    looked for by normalised email over the whole tables.
    """
    assert therapist_filter in FILTERS
    sql = load_sql("therapist_state.sql")
    fragments = {"therapist_filter": therapist_filter, **(BY_JOB_KEYS if keyed else WHOLE_TABLES)}
    for name, fragment in fragments.items():
        # Once each, outside comments: a placeholder in a comment would put a bound
        # value inside the comment, where a newline in the value ends it.
        assert sql.count("{" + name + "}") == 1, f"the placeholder {name} must appear once, outside comments"
        sql = sql.replace("{" + name + "}", fragment)
    return sql


def normalise_email(email: str | None, using: str = PLATFORM_DB) -> str:
    """
    Return an email as docs/rules.md §2 compares it, computed by PostgreSQL: lower(btrim(email)).

    The SQL expression is the one rule, the same as in every statement under sql/;
    Python never re-implements it. str.strip() would also remove tabs, newlines and
    non-breaking spaces, which btrim() keeps, and str.lower() differs from the
    database's lower() on some letters: a stored email would then match nothing.
    """
    if not email:
        return ""
    with connections[using].cursor() as cursor:
        cursor.execute("select lower(btrim(%s::text))", [email])
        return cursor.fetchone()[0]


@dataclass(frozen=True)
class TherapistState:
    """One therapist's three rows, its check results and its link problems."""

    row: dict

    def __getattr__(self, name):
        try:
            return self.row[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def failing_checks(self) -> list[str]:
        return catalogue.failing(self.row, CHECKS)

    @property
    def link_problems(self) -> list[str]:
        return catalogue.failing(self.row, LINK_PROBLEMS)


def apply_state_settings(cursor: CursorWrapper, therapist_filter: str) -> None:
    """Apply the settings of therapist_state.sql under this filter to the rest of the transaction."""
    settings = ALL_THERAPISTS_SETTINGS if therapist_filter == ALL_THERAPISTS else STATE_SETTINGS
    for name, value in settings.items():
        cursor.execute("select set_config(%s, %s, true)", [name, value])


def therapist_states(
    therapist_filter: str = ALL_THERAPISTS, params: dict | None = None, using: str = PLATFORM_DB, keyed: bool = False
) -> list[TherapistState]:
    """Return the state of the therapists the filter selects, ordered by id (``keyed``: see state_sql)."""
    sql = state_sql(therapist_filter, keyed) + " order by c.therapist_id"
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        apply_state_settings(cursor, therapist_filter)
        cursor.execute(sql, params or {})
        return [TherapistState(row) for row in fetch_dicts(cursor)]


def states_for_ids(ids: Iterable, using: str = PLATFORM_DB) -> list[TherapistState]:
    """Return the state of the given therapists (user ids)."""
    return therapist_states(BY_IDS, {"ids": [str(i) for i in ids]}, using=using)


def email_selection(email: str, using: str = PLATFORM_DB) -> tuple[str, dict, bool]:
    """
    Return (filter, params, keyed) selecting the therapists of one normalised email.

    By the expression over the whole tables, or, on a large platform without the
    recommended indexes, by the keys of opsdash's lookup (consistency.engine.email_keys).
    """
    keys = email_keys.lookup(email, using)
    if keys is None:
        return BY_NORMALISED_EMAIL, {"email": email}, False
    return BY_KEYS_OF_EMAIL, keys, True


def states_for_email(email: str, using: str = PLATFORM_DB) -> list[TherapistState]:
    """Return the state of the therapists whose normalised email is this one's."""
    therapist_filter, params, keyed = email_selection(email, using)
    return therapist_states(therapist_filter, params, using=using, keyed=keyed)


def _metrics_sql():
    counts = ",\n".join(
        f"count(*) filter (where {problem.failing_sql('s')}) as {problem.name}"
        for problem in catalogue.THERAPIST_PROBLEMS.values()
    )
    return (
        "select count(*) as therapists, count(*) filter (where s.consistent) as consistent,\n"
        f"{counts}\nfrom ({state_sql(ALL_THERAPISTS)}) s"
    )


def compute_metrics(using: str = PLATFORM_DB, failing: dict | None = None) -> dict:
    """
    Return the consistency metrics of every therapist (docs/rules.md §7 consistency_report).

    1. One pass of the therapist-state statement counts each check and link problem.
       With ``failing`` (those counts among the failing therapists and their number,
       "failing", as consistency.reporting.results.failing_counts gives them right after a
       refresh made the same pass), only the therapists are counted.
    2. The counts of other units (whole_table_counts).
    """
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        apply_state_settings(cursor, ALL_THERAPISTS)
        if failing is None:
            cursor.execute(_metrics_sql())
            row = fetch_dicts(cursor)[0]
        else:
            therapists = therapist_count(using)
            row = {**failing, "therapists": therapists, "consistent": therapists - failing["failing"]}
        others = whole_table_counts(using)
    link_problems = {name: row[name] for name in catalogue.THERAPIST_LINK_PROBLEM_NAMES}
    link_problems.update(others["link_problems"])
    return {
        "therapists": row["therapists"],
        "consistent": row["consistent"],
        "inconsistent": {name: row[name] for name in catalogue.CHECK_NAMES},
        "link_problems": link_problems,
        "unresolved_interventions": others["unresolved_interventions"],
        "computed_at": timezone.now().isoformat(),
    }


def whole_table_counts(using: str = PLATFORM_DB) -> dict:
    """
    Return the metrics that are not counts of therapists, each in a statement of its own.

    duplicate-user counts every user of each group, where the per-therapist flag says
    "this therapist has a twin" (docs/rules.md §7); orphan-enrollment counts
    enrollments; the unresolved interventions are counted where the log exists (else
    None).
    """
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        apply_state_settings(cursor, ALL_THERAPISTS)
        cursor.execute(load_sql("duplicate_users.sql"))
        duplicate_users = int(cursor.fetchone()[0])
        cursor.execute(f"select count(*) from ({load_sql('orphan_enrollments.sql')}) orphan")
        orphan_enrollments = cursor.fetchone()[0]
    return {
        "link_problems": {"duplicate_user": duplicate_users, "orphan_enrollment": orphan_enrollments},
        "unresolved_interventions": unresolved_count(),
    }


def therapist_count(using: str = PLATFORM_DB) -> int:
    """Return how many therapists there are."""
    with connections[using].cursor() as cursor:
        cursor.execute("select count(*) from users where user_type = 'therapist'")
        return cursor.fetchone()[0]
