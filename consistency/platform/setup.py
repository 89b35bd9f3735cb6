"""
Everything opsdash creates or grants in the platform database, in one place.

Requests and jobs never change the platform's schema: `manage.py platform_setup`,
run once (and after an upgrade) by a role that owns the tables, does it all, and
`--sql` prints the same statements for a DBA to run instead:

1. manual_intervention_log and its index (docs/rules.md §1), where missing;
2. the intervention payloads opsdash once wrote double-encoded, rewritten as objects
   (interventions.payloads; a data fix decided row by row, so --sql names the command);
3. the safety net (consistency.safety_net.service, docs/rules.md §5);
4. the indexes of consistency/sql/recommended_indexes.sql, CONCURRENTLY;
5. with a role, the grants of consistency/sql/app_role_grants.sql to it.
"""

import re
from dataclasses import dataclass

from django.db import connections
from psycopg import sql

from consistency.engine.checks import load_sql
from consistency.safety_net import service as safety_net
from interventions.payloads import repair_payloads
from interventions.schema import DDL as INTERVENTION_LOG_DDL
from opsdash.db import PLATFORM_DB

RECOMMENDED_INDEXES_SQL = "recommended_indexes.sql"
GRANTS_SQL = "app_role_grants.sql"
APP_ROLE = "opsdash_app"

_INDEX = re.compile(
    r"create index concurrently if not exists (?P<name>\w+)\s+on (?P<table>\w+)\b.*", re.IGNORECASE | re.DOTALL
)


@dataclass(frozen=True)
class RecommendedIndex:
    """One statement of recommended_indexes.sql."""

    name: str
    table: str
    statement: str


@dataclass(frozen=True)
class IndexStatus:
    name: str
    table: str
    exists: bool
    # False while a concurrent build runs, or after one failed (platform_setup rebuilds it).
    valid: bool

    @property
    def healthy(self):
        return self.exists and self.valid


def _statements(text):
    """Split a SQL file of plain statements (no functions) into statements, without comments."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def recommended_indexes():
    """Return the indexes of recommended_indexes.sql."""
    indexes = []
    for statement in _statements(load_sql(RECOMMENDED_INDEXES_SQL)):
        match = _INDEX.fullmatch(statement)
        if match is None:
            raise ValueError(
                f"{RECOMMENDED_INDEXES_SQL}: not a 'create index concurrently if not exists' statement: {statement[:80]}"
            )
        indexes.append(RecommendedIndex(match["name"], match["table"], statement))
    return indexes


def index_status(using=PLATFORM_DB):
    """Return whether each recommended index exists and is valid (catalog reads only)."""
    statuses = []
    with connections[using].cursor() as cursor:
        for index in recommended_indexes():
            cursor.execute(
                "select i.indisvalid from pg_index i where i.indexrelid = to_regclass(%s) and i.indrelid = to_regclass(%s)",
                [index.name, index.table],
            )
            row = cursor.fetchone()
            statuses.append(IndexStatus(index.name, index.table, row is not None, bool(row and row[0])))
    return statuses


def grants_sql(role):
    """Return the grants of app_role_grants.sql for ``role``, quoted."""
    return sql.SQL(load_sql(GRANTS_SQL)).format(role=sql.Identifier(role), role_name=sql.Literal(role))


def create_intervention_log(using=PLATFORM_DB):
    with connections[using].cursor() as cursor:
        cursor.execute(INTERVENTION_LOG_DDL)


def create_recommended_indexes(using=PLATFORM_DB, report=lambda message: None):
    """
    Build each missing recommended index CONCURRENTLY, outside any transaction.

    An invalid index (a build that failed or was interrupted) is dropped and built
    again: IF NOT EXISTS would keep it, and PostgreSQL never uses it.
    """
    connection = connections[using]
    if connection.in_atomic_block:
        raise RuntimeError("CREATE INDEX CONCURRENTLY cannot run inside a transaction")
    for status, index in zip(index_status(using), recommended_indexes(), strict=False):
        with connection.cursor() as cursor:
            if status.exists and not status.valid:
                report(f"dropping the invalid index {index.name} to build it again")
                cursor.execute(
                    sql.SQL("drop index concurrently if exists {}")
                    .format(sql.Identifier(index.name))
                    .as_string(cursor.connection)
                )
            if not status.healthy:
                report(f"building {index.name} on {index.table} (concurrently)")
            cursor.execute(index.statement)


def grant(role, using=PLATFORM_DB):
    """Grant ``role`` what everyday use needs (app_role_grants.sql)."""
    with connections[using].cursor() as cursor:
        cursor.execute(grants_sql(role).as_string(cursor.connection))


def run(role=None, using=PLATFORM_DB, report=lambda message: None):
    """Run every step against the platform database; return the safety net's status."""
    safety_net.require_platform_tables(using)
    report("manual_intervention_log and its index")
    create_intervention_log(using)
    repaired = repair_payloads(using=using)
    report(f"intervention payloads: {repaired.repaired} double-encoded ones rewritten as objects")
    report("the safety net")
    status = safety_net.install(using)
    report("the recommended indexes")
    create_recommended_indexes(using, report)
    if role:
        report(f"the grants of {role}")
        grant(role, using)
    return status


def script(role=APP_ROLE):
    """Return every statement of run() as one psql script, for a DBA to run instead (connects to nothing)."""
    grants = grants_sql(role).as_string(None)
    parts = [
        "-- opsdash platform setup: run as the owner of the platform's tables, with psql",
        "-- (CREATE INDEX CONCURRENTLY must not run inside a transaction: no --single-transaction).",
        "\\set ON_ERROR_STOP on",
        "",
        "-- 1. manual_intervention_log ------------------------------------------------",
        INTERVENTION_LOG_DDL.strip(),
        "",
        "-- 2. Intervention payloads -----------------------------------------------------",
        "-- Decided row by row in Python: run `python manage.py repair_payloads` (it needs only",
        "-- the everyday role's UPDATE on manual_intervention_log).",
        "",
        "-- 3. The safety net ------------------------------------------------------------",
        "-- `manage.py safety_net install` also stamps each object with the shipped release;",
        "-- run from here, the safety-net page shows them as not the shipped definition",
        "-- until that command runs once.",
        "begin;",
        load_sql(safety_net.INSTALL_SQL).strip(),
        "commit;",
        "",
        "-- 4. Recommended indexes ------------------------------------------------------",
        *(index.statement + ";" for index in recommended_indexes()),
        "",
        f"-- 5. The grants of {role} ------------------------------------------------------",
        grants.strip(),
        "",
    ]
    return "\n".join(parts)
