"""
One therapist without the recommended indexes: opsdash's own lookup of the platform rows
that a normalised email finds only by scanning a whole table (docs/rules.md §2).

A therapist's rows are found by normalised email, lower(btrim(email)): its users of
every spelling, and the unlinked enrollments of its email. users.email has a unique
index, so a user whose email is already normalised is found by it. The others, and
every unlinked enrollment (therapist_enrollments has no index on email), are found only
by computing the expression over the whole table: about a second per table at a million
therapists, on every therapist page, resync preview and resync request.

`manage.py platform_setup` builds the two expression indexes that make these lookups
index scans (consistency/sql/recommended_indexes.sql); with them this module stays out
of the way. Without them, on a platform of OPSDASH_EMAIL_KEYS_MIN_USERS users or more,
the rows come from this lookup, kept in opsdash's own database: every user whose email
is not already normalised and every unlinked enrollment, by normalised email. It is
refreshed with every snapshot while it is needed (emptied once it is not), in the
snapshot's own REPEATABLE READ transaction (consistency.reporting.snapshots). The rows it names are
read by key and checked again as they are now; a row added or respelled since the last
snapshot is found at the next one. The therapist page says when that was.
"""

from datetime import datetime

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from consistency.models import EmailKey, EmailKeySet
from opsdash.db import PLATFORM_DB

# The platform rows a normalised email would otherwise be looked for by scanning.
_ROWS_SQL = """
select lower(btrim(u.email)), 'user', u.id
from users u
where u.email <> lower(btrim(u.email))
union all
select lower(btrim(e.email)), 'unlinked_enrollment', e.id
from therapist_enrollments e
where e.user_id is null
"""
_COPY_OUT = f"copy ({_ROWS_SQL}) to stdout"
_COPY_IN = f"copy {EmailKey._meta.db_table} (norm_email, kind, row_id) from stdin"


def refresh(using: str = PLATFORM_DB) -> int:
    """
    Replace the lookup with the platform's rows as they are now; return how many there are.

    Run inside the caller's transaction of the platform, when it has one (a snapshot's),
    so that the lookup describes the same moment as the figures beside it.
    """
    rows = 0
    with transaction.atomic(), connections["default"].cursor() as target:
        # A DELETE, not a TRUNCATE: the pages go on reading the old rows until the commit.
        target.execute(f"delete from {EmailKey._meta.db_table}")
        with connections[using].wrap_database_errors, connections[using].cursor() as source:
            with source.copy(_COPY_OUT) as copy_out, target.copy(_COPY_IN) as copy_in:
                for data in copy_out:
                    copy_in.write(data)
                    rows += bytes(data).count(b"\n")
        EmailKeySet.objects.update_or_create(pk=1, defaults={"refreshed_at": timezone.now(), "rows": rows})
    return rows


def needed(using: str = PLATFORM_DB) -> bool:
    """
    Tell whether one therapist is to be read through the lookup: on a platform of
    OPSDASH_EMAIL_KEYS_MIN_USERS users or more (by the planner's estimate) that lacks a
    valid recommended index. Below that size a scan takes well under 100 ms and is exact.
    """
    from consistency.platform.setup import index_status

    if _estimated_users(using) < settings.OPSDASH_EMAIL_KEYS_MIN_USERS:
        return False
    return not all(status.healthy for status in index_status(using))


def refresh_if_needed(using: str = PLATFORM_DB) -> int | None:
    """
    Refresh the lookup where it is needed (a snapshot calls this); return its rows.

    Elsewhere empty it, so that rows from before the indexes were built never stand in
    for the tables later: return None.
    """
    if needed(using):
        return refresh(using)
    with transaction.atomic():
        EmailKeySet.objects.all().delete()
        EmailKey.objects.all().delete()
    return None


def in_use(using: str = PLATFORM_DB) -> datetime | None:
    """Return when the lookup was refreshed if one therapist is read through it (needed, and filled), else None."""
    if not needed(using):
        return None
    key_set = EmailKeySet.objects.filter(pk=1).first()
    return key_set.refreshed_at if key_set else None


def _estimated_users(using: str) -> int:
    with connections[using].cursor() as cursor:
        cursor.execute("select greatest(reltuples, 0)::bigint from pg_class where oid = to_regclass('users')")
        row = cursor.fetchone()
        return row[0] if row else 0


def lookup(email: str, using: str = PLATFORM_DB) -> dict | None:
    """
    Return the keys of one normalised email's rows, or None where the whole tables are read.

    {"norm_email", "ids" (the users to consider), "twin_ids" (those spelled otherwise),
    "unlinked_ids"}: the parameters of therapist_state.sql under
    consistency.engine.checks.BY_KEYS_OF_EMAIL.
    """
    from consistency.engine.checks import normalise_email

    if in_use(using) is None:
        return None
    norm_email = normalise_email(email, using)
    with connections[using].cursor() as cursor:
        # The user spelled exactly so, by the unique index on users.email.
        cursor.execute("select id from users where email = %s", [norm_email])
        exact = [str(row[0]) for row in cursor.fetchall()]
    keys: dict[str, list[str]] = {EmailKey.USER: [], EmailKey.UNLINKED_ENROLLMENT: []}
    for kind, row_id in EmailKey.objects.filter(norm_email=norm_email).values_list("kind", "row_id"):
        keys[kind].append(str(row_id))
    return {
        "norm_email": norm_email,
        "ids": exact + keys[EmailKey.USER],
        "twin_ids": keys[EmailKey.USER],
        "unlinked_ids": keys[EmailKey.UNLINKED_ENROLLMENT],
    }
