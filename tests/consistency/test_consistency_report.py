"""consistency_report: the metrics as a table or one JSON object (docs/rules.md §7), writing nothing."""

import json
from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from tests.factories import make_enrollment, make_profile, make_therapist, make_user

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


def report(*args):
    out = StringIO()
    call_command("consistency_report", *args, stdout=out)
    return out.getvalue()


def platform_fingerprint():
    """Return a digest of every row of the platform tables, to prove nothing was written."""
    with connections["platform"].cursor() as cursor:
        cursor.execute(
            "select (select md5(coalesce(string_agg(t::text, '|' order by t.id), '')) from users t),"
            " (select md5(coalesce(string_agg(t::text, '|' order by t.id), '')) from therapist_enrollments t),"
            " (select md5(coalesce(string_agg(t::text, '|' order by t.id), '')) from therapist_profiles t),"
            " (select md5(coalesce(string_agg(t::text, '|' order by t.id), '')) from manual_intervention_log t)"
        )
        return cursor.fetchone()


def log_intervention(operation, entity_id, resolved=False):
    with connections["platform"].cursor() as cursor:
        cursor.execute(
            "insert into manual_intervention_log (operation, entity_id, error, resolved) values (%s, %s, %s, %s)",
            [operation, entity_id, "sync failed", resolved],
        )


@pytest.fixture
def drifted_platform():
    """Two consistent therapists, one bio drift, one without profile, a duplicate user pair, an orphan."""
    make_therapist()
    make_therapist()
    make_therapist(profile={"bio": "Different"})
    make_therapist(profile=False)
    make_therapist("twin@example.com")
    make_therapist("Twin@Example.com")
    make_enrollment(email="ghost@example.com", linked=False, status="approved")
    make_user("client@example.com", user_type="individual")
    log_intervention("profile-sync", "twin@example.com")
    log_intervention("avatar-sync", "ghost@example.com", resolved=True)


def test_json_report_has_the_keys_of_the_spec(drifted_platform):
    metrics = json.loads(report("--json"))

    assert {
        "therapists",
        "consistent",
        "inconsistent",
        "link_problems",
        "unresolved_interventions",
        "computed_at",
    } <= set(metrics)
    assert set(metrics["inconsistent"]) == {
        "avatar",
        "bio",
        "experience",
        "verification",
        "active",
        "name",
        "specializations",
    }
    assert set(metrics["link_problems"]) == {
        "unlinked_enrollment",
        "missing_enrollment",
        "missing_profile",
        "duplicate_enrollment",
        "duplicate_user",
        "orphan_enrollment",
    }
    computed_at = datetime.fromisoformat(metrics["computed_at"])
    assert computed_at.utcoffset() == timedelta(0)


def test_json_report_counts_the_drift(drifted_platform):
    metrics = json.loads(report("--json"))

    assert metrics["therapists"] == 6
    assert metrics["consistent"] == 2
    assert metrics["inconsistent"]["bio"] == 1
    assert sum(metrics["inconsistent"].values()) == 1
    assert metrics["link_problems"] == {
        "unlinked_enrollment": 0,
        "missing_enrollment": 0,
        "missing_profile": 1,
        "duplicate_enrollment": 0,
        "duplicate_user": 2,
        "orphan_enrollment": 1,
    }
    assert metrics["unresolved_interventions"] == 1


def test_json_report_is_one_object_on_one_line(drifted_platform):
    output = report("--json")
    assert output.strip().count("\n") == 0
    assert isinstance(json.loads(output), dict)


def test_text_report_shows_counts_percentages_and_units(drifted_platform):
    output = report()

    assert "Therapists               6" in output
    assert "Consistent               2  33.3%" in output
    assert "  bio                            1  16.7%" in output
    assert "  missing-profile                1  therapists" in output
    assert "  duplicate-user                 2  users" in output
    assert "  orphan-enrollment              1  enrollments" in output
    assert "Unresolved interventions  1" in output
    assert "Computed at " in output


def test_text_report_of_an_empty_platform_shows_no_percentages():
    output = report()
    assert "Therapists               0" in output
    assert "Consistent               0  -" in output


def test_report_writes_nothing_to_the_platform_database(drifted_platform):
    user = make_user()
    make_profile(user)
    make_enrollment(user, linked=False)  # unlinked: what a repair would fix
    before = platform_fingerprint()

    report()
    report("--json")

    assert platform_fingerprint() == before


def test_report_says_when_the_intervention_log_is_missing(drifted_platform):
    with connections["platform"].cursor() as cursor:
        cursor.execute("drop table manual_intervention_log")  # rolled back with the test

    assert json.loads(report("--json"))["unresolved_interventions"] is None
    assert "Unresolved interventions  (no manual_intervention_log table)" in report()


def test_report_explains_a_platform_database_without_the_therapist_tables():
    with connections["platform"].cursor() as cursor:
        cursor.execute("drop table therapist_profiles")  # rolled back with the test

    with pytest.raises(CommandError, match="cannot read the platform database"):
        report("--json")
