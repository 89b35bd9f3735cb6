"""
One email normalisation: docs/rules.md §2's lower(btrim(email)), computed by PostgreSQL only.

btrim() trims spaces and nothing else, so a stored email with a tab, a newline or a
non-breaking space keeps it, and the same text finds it again on every path: the
therapist page, the drill-down filter, a resync and repair_consistency --email.
"""

import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connections
from django.urls import reverse

from consistency.engine.checks import normalise_email
from consistency.jobs import service as jobs
from consistency.reporting.results import refresh_results
from tests.factories import make_therapist

pytestmark = pytest.mark.django_db(databases=["default", "platform"])

ROOT = Path(__file__).resolve().parents[2]
# Emails Python's str.strip().lower() would change differently from lower(btrim()).
AWKWARD = ["tab@example.com\t", "\nnewline@example.com", "nbsp@example.com\u00a0", "İpek@Example.com"]


def sql_rule(email):
    with connections["platform"].cursor() as cursor:
        cursor.execute("select lower(btrim(%s::text))", [email])
        return cursor.fetchone()[0]


@pytest.mark.parametrize("email", AWKWARD + ["  Ada@Example.COM  "])
def test_normalise_email_is_the_sql_rule(email):
    assert normalise_email(email) == sql_rule(email)


def test_spaces_are_trimmed_and_letters_lowered():
    assert normalise_email("  Ada@Example.COM  ") == "ada@example.com"


def test_tabs_newlines_and_non_breaking_spaces_are_kept():
    assert normalise_email("tab@example.com\t") == "tab@example.com\t"
    assert normalise_email("\nnewline@example.com") == "\nnewline@example.com"
    assert normalise_email("nbsp@example.com\u00a0") == "nbsp@example.com\u00a0"


@pytest.mark.parametrize("email", AWKWARD)
def test_the_therapist_page_finds_a_stored_email_by_the_same_text(viewer_client, email):
    make_therapist(email, profile={"bio": "Old"})
    response = viewer_client.get(reverse("consistency:therapist"), {"email": email})
    [item] = response.context["found"]
    assert item["state"].u_email == email


@pytest.mark.parametrize("email", AWKWARD)
def test_the_drilldown_filter_finds_a_stored_email_by_the_same_text(viewer_client, email):
    make_therapist(email, profile={"bio": "Old"})
    make_therapist("other@example.com", profile={"bio": "Old"})
    refresh_results()
    response = viewer_client.get(reverse("consistency:drilldown", args=["bio"]), {"email": email})
    assert [row.record.u_email for row in response.context["table"].rows] == [email]


@pytest.mark.parametrize("email", AWKWARD)
def test_repair_consistency_email_finds_a_stored_email_by_the_same_text(email):
    make_therapist(email, profile={"bio": "Old"})
    out = StringIO()
    call_command("repair_consistency", "--dry-run", "--email", email, stdout=out)
    assert f"Dry run for {sql_rule(email)}: nothing was written." in out.getvalue()
    assert "therapist_profiles.bio" in out.getvalue()


def test_a_resync_finds_the_stored_email_with_its_tab_and_only_with_it():
    make_therapist("tab@example.com\t", profile={"bio": "Old"})
    assert jobs.find_therapist_ids("tab@example.com\t")
    with pytest.raises(jobs.UnknownTherapist):
        jobs.find_therapist_ids("tab@example.com")  # the tab is part of the stored email


def test_python_never_reimplements_the_rule():
    sources = [p for d in ("consistency", "interventions", "opsdash") for p in (ROOT / d).rglob("*.py")]
    offenders = [str(p) for p in sources if re.search(r"\.strip\(\)\.lower\(\)|\.lower\(\)\.strip\(\)", p.read_text())]
    assert offenders == []
