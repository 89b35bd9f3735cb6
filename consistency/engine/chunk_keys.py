"""
Work per job, not per chunk: what every chunk of a repair-all would otherwise look up
over the whole tables (docs/rules.md §2's unlinked enrollments by normalised email, docs/rules.md §3's
duplicate users, and the open interventions of manual_intervention_log) is found once,
set-based, when the job starts (consistency/sql/chunk_keys.sql,
chunk_intervention_keys.sql), and each chunk reads its share by key.
"""

from bisect import bisect_left
from uuid import UUID

from django.db import connections, transaction

from consistency.engine.checks import ALL_THERAPISTS, apply_state_settings, load_sql
from interventions.schema import intervention_log_exists
from opsdash.db import PLATFORM_DB

KINDS = ("unlinked_ids", "twin_ids", "intervention_ids")


def chunk_keys(bounds: list[tuple[str, str]], using: str = PLATFORM_DB) -> list[dict[str, list[str]]]:
    """
    Return the keys of each keyset chunk of ``bounds`` ([(after, upto), ...], in order).

    One dict per chunk, {"unlinked_ids": [...], "twin_ids": [...], "intervention_ids":
    [...]}: the rows its therapists' lookups by normalised email would find now, as the
    parameters of therapist_state.sql under consistency.engine.checks.BY_JOB_KEYS, and
    their open interventions (consistency.engine.repair resolves among those alone).
    Without manual_intervention_log there is no "intervention_ids".
    """
    statements: dict[str, tuple[str, ...]] = {"chunk_keys.sql": KINDS[:2]}
    if intervention_log_exists(using):
        statements["chunk_intervention_keys.sql"] = KINDS[2:]
    kinds = [kind for found in statements.values() for kind in found]
    keys: list[dict[str, set]] = [{kind: set() for kind in kinds} for _ in bounds]
    # Chunk i covers (after_i, upto_i] and upto_i is after_(i+1): the first upto at or
    # above an id is its chunk's. Python orders UUIDs as PostgreSQL does (bytewise).
    uppers = [UUID(str(upto)) for _, upto in bounds]
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        # One pass over everyone: every join is best hashed.
        apply_state_settings(cursor, ALL_THERAPISTS)
        for statement in statements:
            cursor.execute(load_sql(statement))
            for therapist_id, kind, row_id in cursor:
                index = bisect_left(uppers, therapist_id)
                if index < len(keys):
                    keys[index][kind].add(str(row_id))
    return [{kind: sorted(ids) for kind, ids in chunk.items()} for chunk in keys]
