"""
Repair the intervention payloads opsdash wrote double-encoded.

Until the fix in interventions.log.unlogged, the link problems and orphan enrollments a
repair or resync logged had a payload that was a JSON string holding JSON
(``jsonb_typeof(payload) = 'string'``, e.g. ``"{\"job\": 5, \"email\": …}"``), where
docs/rules.md §1 wants an object, as the platform's own rows have. The repair rewrites those
rows with the object they hold, and no other row: a row counts as opsdash's only when

- its operation is one whose payload opsdash built in SQL (OPSDASH_KEYS),
- its entity_id is a normalised email, as opsdash logs everything,
- its payload is a jsonb string whose text is a JSON object with exactly the keys
  opsdash writes for that operation, whose ``email`` normalises to the entity_id
  (compared in SQL, the one normalisation: docs/rules.md §2).

A string payload the platform wrote, an object, NULL or anything else is left alone.
It is idempotent: a second run finds nothing to do. ``manage.py repair_payloads`` runs it.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from django.db import connections, transaction

from opsdash.db import PLATFORM_DB

SQL_DIR = Path(__file__).resolve().parent / "sql"

_LINK_PROBLEM_KEYS = frozenset({"user_id", "email", "enrollment_id", "profile_id", "enrollments", "job"})
# The keys of the payload opsdash writes, per operation: consistency/sql/link_problems.sql
# and consistency/sql/orphan_problems.sql.
OPSDASH_KEYS = {
    "unlinked-enrollment": _LINK_PROBLEM_KEYS,
    "missing-enrollment": _LINK_PROBLEM_KEYS,
    "missing-profile": _LINK_PROBLEM_KEYS,
    "duplicate-enrollment": _LINK_PROBLEM_KEYS,
    "duplicate-user": _LINK_PROBLEM_KEYS,
    "orphan-enrollment": frozenset({"enrollment_id", "email", "job"}),
}
# Rows rewritten per statement.
BATCH = 1000


@dataclass
class PayloadRepair:
    candidates: int = 0  # string payloads under opsdash's operations and a normalised email
    repaired: int = 0  # of those, rewritten as the object they hold (or, dry run, to rewrite)

    @property
    def left_alone(self):
        return self.candidates - self.repaired


def _sql(name):
    return (SQL_DIR / name).read_text()


def _object_opsdash_wrote(operation, text):
    """Return the object a payload's text holds when it is the one opsdash writes for this problem, else None."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return None
    if not isinstance(value, dict) or set(value) != OPSDASH_KEYS[operation]:
        return None
    return value


def repair_payloads(dry_run=False, using=PLATFORM_DB):
    """Rewrite opsdash's double-encoded payloads as the objects they hold; return what was found and done."""
    result = PayloadRepair()
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute(_sql("double_encoded_payloads.sql"), {"operations": list(OPSDASH_KEYS)})
        rows = cursor.fetchall()
        result.candidates = len(rows)
        fixes = []
        for row_id, operation, _entity_id, text in rows:
            value = _object_opsdash_wrote(operation, text)
            if value is not None:
                fixes.append({"id": str(row_id), "payload": value})
        update = _sql("repair_payloads.sql")
        for start in range(0, len(fixes), BATCH):
            cursor.execute(update, {"fixes": json.dumps(fixes[start : start + BATCH])})
            result.repaired += cursor.rowcount
        if dry_run:
            # The same statements tell what they would rewrite; nothing is kept.
            transaction.set_rollback(True, using=using)
    return result
