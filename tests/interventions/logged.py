"""
Interventions as they are really written, for the tests of the pages that show them.

Each function makes the situation on the platform tables and lets the real writer log
it: the safety net's trigger when a propagation fails, a repair for the link problems
it cannot fix, log_orphan_enrollments() for orphan enrollments, and the platform's own
app, outside opsdash, as one INSERT. They return what was
logged, read back. assert_stored_types() checks in SQL what PostgreSQL stored.
"""

import json
from datetime import timedelta

from django.db import connections
from django.utils import timezone

from consistency.engine.repair import log_orphan_enrollments
from consistency.safety_net import service as safety_net
from interventions.models import Intervention
from tests.factories import make_enrollment, make_therapist
from tests.helpers import refuse_in_platform, repair_everyone


def _platform_sql(statement, params=None):
    with connections["platform"].cursor() as cursor:
        cursor.execute(statement, params)


def _quoted(identifier):
    return '"' + identifier.replace('"', '""') + '"'


def trigger_failure(email, avatar_url="https://cdn.example.com/new.gif", constraint="no_gif_images"):
    """
    Log an avatar-sync failure as the safety net does: a therapist (made when missing)
    sets an avatar that a check constraint named ``constraint`` on therapist_profiles
    refuses, so the trigger's propagation fails and logs it. Return the open intervention.

    The safety net is installed when missing: in the test's transaction, or committed in
    a transactional test, which must roll it back.
    """
    normalised = email.strip().lower()
    if not safety_net.status().installed:
        safety_net.install()
    _platform_sql(f"alter table therapist_profiles drop constraint if exists {_quoted(constraint)}")
    refuse_in_platform("therapist_profiles", constraint, "profile_image_url not like '%%.gif'")
    with connections["platform"].cursor() as cursor:
        cursor.execute("select id from users where lower(btrim(email)) = %s", [normalised])
        found = cursor.fetchone()
    user_id = found[0] if found else make_therapist(email)[0].id
    _platform_sql("update users set avatar_url = %s where id = %s", [avatar_url, user_id])
    return Intervention.objects.get(operation="avatar-sync", entity_id=normalised, resolved=False)


def repair_link_problems(without_profile=(), with_two_enrollments=()):
    """
    Run a repair over therapists with link problems it logs and cannot fix: no profile
    (missing-profile), two enrollments (duplicate-enrollment). Return what it logged.
    """
    for email in without_profile:
        make_therapist(email, profile=False)
    for email in with_two_enrollments:
        make_therapist(email)
        make_enrollment(email=email, linked=False, age=timedelta(days=30))
    before = set(Intervention.objects.values_list("pk", flat=True))
    result = repair_everyone()
    logged = list(Intervention.objects.exclude(pk__in=before))
    assert result.interventions_logged == len(logged)
    return logged


def orphan_enrollments(*emails):
    """Log approved enrollments that no user matches, with log_orphan_enrollments(). Return them."""
    for email in emails:
        make_enrollment(email=email, linked=False, full_name="Never Signed In")
    log_orphan_enrollments()
    normalised = [email.strip().lower() for email in emails]
    return list(Intervention.objects.filter(operation="orphan-enrollment", entity_id__in=normalised, resolved=False))


def logged_by_the_platform(operation, entity_id, error, payload):
    """
    Log a failure as the platform's own app does (GRACEFUL-DEGRADATION-PATTERN): a plain
    INSERT, its entity_id an email or a user id as the app had it. Return it.
    """
    with connections["platform"].cursor() as cursor:
        cursor.execute(
            "insert into manual_intervention_log (operation, entity_id, error, payload)"
            " values (%s, %s, %s, %s::jsonb) returning id",
            [operation, entity_id, error, json.dumps(payload)],
        )
        return Intervention.objects.get(pk=cursor.fetchone()[0])


def logged_ago(interventions, ago):
    """Move the logging time of interventions into the past (the writers log at now())."""
    Intervention.objects.filter(pk__in=[i.pk for i in interventions]).update(timestamp=timezone.now() - ago)


def assert_stored_types():
    """
    Assert in SQL that every logged row has the types its readers rely on: a JSON object
    as payload (not a JSON string holding one), an open or resolved flag, a time, and
    the therapist's normalised email as entity_id.
    """
    with connections["platform"].cursor() as cursor:
        cursor.execute(
            """
            select operation, entity_id, jsonb_typeof(payload), resolved, "timestamp" is not null
            from manual_intervention_log
            where payload is null or jsonb_typeof(payload) <> 'object'
               or resolved is null or "timestamp" is null
               or entity_id is distinct from lower(btrim(entity_id))
            """
        )
        wrong = cursor.fetchall()
        cursor.execute("select count(*) from manual_intervention_log")
        rows = cursor.fetchone()[0]
    assert rows, "nothing was logged"
    assert wrong == [], (
        f"stored with the wrong types (operation, entity_id, payload type, resolved, timestamp): {wrong}"
    )
