"""
The safety-net triggers of docs/rules.md §5: install, roll back, and report their status.

The SQL lives in consistency/sql/safety_net_install.sql and safety_net_rollback.sql.
Both run in one transaction and can run any number of times.

"Matches the shipped definition" is decided without parsing SQL: right after
installing, each object gets a COMMENT holding the release of the shipped install
file and a fingerprint of the definition PostgreSQL made of it (pg_get_functiondef,
pg_get_triggerdef, pg_get_indexdef). A hand edit (CREATE OR REPLACE keeps the comment)
changes the definition; a drop and re-create loses the comment; a newer release of the
file changes the release: each shows as a mismatch until the next install.
"""

import enum
import hashlib
from dataclasses import dataclass, field

from django.db import connections, transaction
from psycopg import sql

from consistency.engine.checks import load_sql
from consistency.platform.schema import platform_tables_exist
from interventions.schema import ensure_intervention_log
from opsdash.db import PLATFORM_DB

INSTALL_SQL = "safety_net_install.sql"
ROLLBACK_SQL = "safety_net_rollback.sql"

# DDL on users and therapist_enrollments waits for every open transaction on them,
# and every write queues behind the waiting DDL: give up rather than stall the platform.
LOCK_TIMEOUT = "10s"

FUNCTION = "function"
TRIGGER = "trigger"
INDEX = "index"


@dataclass(frozen=True)
class Expected:
    """One object the install file creates."""

    kind: str
    name: str
    table: str | None = None
    # For functions: the argument types, as to_regprocedure and COMMENT ON name them.
    arguments: str = ""

    @property
    def signature(self):
        return f"{self.name}({self.arguments})"


# Everything safety_net_install.sql creates and safety_net_rollback.sql drops.
EXPECTED = (
    Expected(FUNCTION, "opsdash_canonical_enrollment", arguments="uuid, text"),
    Expected(FUNCTION, "opsdash_enrollment_therapists", arguments="uuid, uuid, text"),
    Expected(FUNCTION, "opsdash_log_sync_failure", arguments="text, text, text, jsonb"),
    Expected(FUNCTION, "opsdash_report_sync_failure", arguments="text, text, text, text, jsonb"),
    Expected(FUNCTION, "opsdash_sync_avatar"),
    Expected(FUNCTION, "opsdash_sync_profile_data"),
    Expected(FUNCTION, "opsdash_sync_verification"),
    Expected(TRIGGER, "opsdash_sync_avatar_from_users", "users"),
    Expected(TRIGGER, "opsdash_sync_avatar_from_enrollments", "therapist_enrollments"),
    Expected(TRIGGER, "opsdash_sync_avatar_from_profiles", "therapist_profiles"),
    Expected(TRIGGER, "opsdash_sync_profile_data_from_enrollments", "therapist_enrollments"),
    Expected(TRIGGER, "opsdash_sync_profile_data_from_profiles", "therapist_profiles"),
    Expected(TRIGGER, "opsdash_sync_verification_from_enrollments", "therapist_enrollments"),
    Expected(INDEX, "opsdash_users_therapist_email_idx", "users"),
    Expected(INDEX, "opsdash_enrollments_unlinked_email_idx", "therapist_enrollments"),
)


class State(enum.StrEnum):
    """The safety net as a whole."""

    INSTALLED = "installed"
    NOT_INSTALLED = "not installed"
    # Some objects are missing: a half-done manual rollback, or a dropped trigger.
    PARTIAL = "partially installed"
    # Everything is there, but some definition is not the shipped one.
    DRIFTED = "drifted"
    # Everything is there and shipped, but some trigger does not fire.
    DISABLED = "disabled"


@dataclass(frozen=True)
class ObjectStatus:
    """One expected trigger, function or index as the platform database has it."""

    name: str
    kind: str
    table: str | None
    exists: bool
    # Triggers only: whether it fires in an ordinary session; None for other kinds.
    enabled: bool | None
    matches_shipped_definition: bool

    @property
    def healthy(self):
        return self.exists and self.enabled is not False and self.matches_shipped_definition


@dataclass(frozen=True)
class SafetyNetStatus:
    """The overall state and one ObjectStatus per expected object."""

    state: State
    objects: list[ObjectStatus] = field(default_factory=list)

    @property
    def installed(self):
        return self.state == State.INSTALLED

    @property
    def anything_installed(self):
        """Whether any object of it exists: only then is there something to roll back."""
        return any(o.exists for o in self.objects)


class SafetyNetError(Exception):
    """The safety net cannot be installed or rolled back here; the message says why."""


def release():
    """Return the release of the shipped install file: the start of its SHA-256."""
    return hashlib.sha256(load_sql(INSTALL_SQL).encode()).hexdigest()[:12]


STAMP_PREFIX = "opsdash safety net"


def _fingerprint(definition):
    return hashlib.sha256(definition.encode()).hexdigest()[:16]


def _stamp(definition):
    return f"{STAMP_PREFIX} {release()} {_fingerprint(definition)}"


def _stamped_by_opsdash(definition, comment):
    """Tell whether opsdash stamped this very definition, in whichever release."""
    parts = (comment or "").rsplit(" ", 2)
    return len(parts) == 3 and parts[0] == STAMP_PREFIX and parts[2] == _fingerprint(definition)


def _find(cursor, expected):
    """Return (oid, definition, comment, enabled) of an expected object, or None."""
    if expected.kind == FUNCTION:
        cursor.execute(
            "select p.oid, pg_get_functiondef(p.oid), obj_description(p.oid, 'pg_proc'), null"
            " from pg_proc p where p.oid = to_regprocedure(%s)",
            [expected.signature],
        )
    elif expected.kind == TRIGGER:
        # 'O' and 'A' fire in an ordinary session; 'D' is disabled, 'R' fires only on replicas.
        cursor.execute(
            "select t.oid, pg_get_triggerdef(t.oid), obj_description(t.oid, 'pg_trigger'), t.tgenabled in ('O', 'A')"
            " from pg_trigger t where t.tgrelid = to_regclass(%s) and t.tgname = %s",
            [expected.table, expected.name],
        )
    else:
        cursor.execute(
            "select i.indexrelid, pg_get_indexdef(i.indexrelid), obj_description(i.indexrelid, 'pg_class'), null"
            " from pg_index i where i.indexrelid = to_regclass(%s) and i.indrelid = to_regclass(%s)",
            [expected.name, expected.table],
        )
    return cursor.fetchone()


def _execute_composed(cursor, statement):
    # DDL and COMMENT take no bind parameters: psycopg quotes the identifiers (the
    # constants of EXPECTED) and the stamp (our own hex digits) itself.
    cursor.execute(statement.as_string(cursor.connection))


def _comment_statement(expected, stamp):
    if expected.kind == FUNCTION:
        target = sql.SQL("function {}").format(sql.SQL(expected.signature))
    elif expected.kind == TRIGGER:
        target = sql.SQL("trigger {} on {}").format(sql.Identifier(expected.name), sql.Identifier(expected.table))
    else:
        target = sql.SQL("index {}").format(sql.Identifier(expected.name))
    return sql.SQL("comment on {} is {}").format(target, sql.Literal(stamp))


def _drop_unstamped_indexes(cursor):
    # CREATE INDEX IF NOT EXISTS keeps any index of the name: one that opsdash did not
    # build from the shipped file (made or altered by hand) is dropped to be rebuilt.
    # One opsdash built is kept across releases: a shipped index that changes gets a new name.
    for expected in EXPECTED:
        found = _find(cursor, expected) if expected.kind == INDEX else None
        if found and not _stamped_by_opsdash(found[1], found[2]):
            _execute_composed(cursor, sql.SQL("drop index {}").format(sql.Identifier(expected.name)))


def require_platform_tables(using=PLATFORM_DB):
    """Raise SafetyNetError unless the platform's therapist tables are there."""
    if not platform_tables_exist(using):
        raise SafetyNetError("the platform database has no users, therapist_enrollments and therapist_profiles tables")


def _set_lock_timeout(cursor):
    cursor.execute("select set_config('lock_timeout', %s, true)", [LOCK_TIMEOUT])


def install(using=PLATFORM_DB):
    """
    Install the safety net in one transaction and return its status.

    1. Create manual_intervention_log where missing (it is never dropped).
    2. Drop any index of a shipped name that opsdash did not build.
    3. Run the shipped install file: indexes, functions, triggers (re-enabling any
       disabled one).
    4. Stamp each object with the release and its definition's fingerprint.
    """
    require_platform_tables(using)
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        _set_lock_timeout(cursor)
        ensure_intervention_log(using)
        _drop_unstamped_indexes(cursor)
        cursor.execute(load_sql(INSTALL_SQL))
        for expected in EXPECTED:
            _, definition, _, _ = _find(cursor, expected)
            _execute_composed(cursor, _comment_statement(expected, _stamp(definition)))
    return status(using)


def rollback(using=PLATFORM_DB):
    """Drop every safety-net trigger, function and index in one transaction; return the status."""
    require_platform_tables(using)
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        _set_lock_timeout(cursor)
        cursor.execute(load_sql(ROLLBACK_SQL))
    return status(using)


def _object_status(cursor, expected):
    found = _find(cursor, expected)
    if found is None:
        return ObjectStatus(expected.name, expected.kind, expected.table, False, None, False)
    _, definition, comment, enabled = found
    return ObjectStatus(
        name=expected.name,
        kind=expected.kind,
        table=expected.table,
        exists=True,
        enabled=enabled,
        matches_shipped_definition=comment == _stamp(definition),
    )


def _overall(objects):
    if not any(o.exists for o in objects):
        return State.NOT_INSTALLED
    if not all(o.exists for o in objects):
        return State.PARTIAL
    if not all(o.matches_shipped_definition for o in objects):
        return State.DRIFTED
    if any(o.enabled is False for o in objects):
        return State.DISABLED
    return State.INSTALLED


def status(using=PLATFORM_DB):
    """Return the state of the safety net and of each expected object (reads the catalog only)."""
    if not platform_tables_exist(using):
        return SafetyNetStatus(
            State.NOT_INSTALLED, [ObjectStatus(e.name, e.kind, e.table, False, None, False) for e in EXPECTED]
        )
    with connections[using].cursor() as cursor:
        objects = [_object_status(cursor, expected) for expected in EXPECTED]
    return SafetyNetStatus(_overall(objects), objects)
