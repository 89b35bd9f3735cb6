"""Bad input on every page: a clear 400 or form error, never a 500, never more than a prefix repeated."""

import csv
import io
import re
import uuid

import pytest
from django.contrib.messages import get_messages
from django.db import connections
from django.urls import reverse

from consistency.models import JobKind, JobRun
from consistency.reporting.results import refresh_results
from opsdash.inputs import PER_PAGE_MAX
from tests.factories import make_therapist

pytestmark = pytest.mark.django_db(databases=["default", "platform"])

BIO = reverse("consistency:drilldown", args=["bio"])
JOBS = reverse("consistency:jobs")
QUEUE = reverse("interventions:queue")
HUGE = "x" * 100_000


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize(
    "url",
    [
        reverse("consistency:therapist") + "?email=a%00b",
        reverse("interventions:items") + "?entity_id=%00",
        BIO + "?status=%00",
        QUEUE + "?q=ab%00",
        JOBS + "?sort=%00",
        BIO + "?e%00mail=x",
    ],
)
def test_a_nul_character_is_a_bad_request_that_says_so(viewer_client, url):
    response = viewer_client.get(url)
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


def test_an_oversized_value_is_a_bad_request_that_repeats_none_of_it(viewer_client):
    response = viewer_client.get(reverse("consistency:therapist") + "?email=" + HUGE)
    assert response.status_code == 400
    assert "100000 characters long; at most 500" in response.content.decode()
    assert len(response.content) < 300


def test_a_job_id_that_is_not_a_number_is_ignored(viewer_client):
    row = reverse("consistency:drilldown_row", args=["bio", uuid.uuid4()])
    for job in ("abc", "-1", "1e9", "99999999999999999999999"):
        assert viewer_client.get(row + f"?job={job}").status_code == 200, job


@pytest.fixture
def many_jobs():
    JobRun.objects.bulk_create(
        JobRun(kind=JobKind.RESYNC, target=f"t{i}@example.com", state="succeeded") for i in range(130)
    )


@pytest.mark.parametrize("url", [BIO, JOBS, QUEUE])
@pytest.mark.parametrize("per_page", ["-1", "0", "abc", "2.5", ""])
def test_a_per_page_that_is_no_page_size_shows_the_default(viewer_client, many_jobs, url, per_page):
    response = viewer_client.get(url + f"?per_page={per_page}&page=-3")
    assert response.status_code == 200
    assert response.context["table"].paginator.per_page == 25


def test_per_page_is_capped_at_100(viewer_client, many_jobs):
    response = viewer_client.get(JOBS + "?per_page=1000000")
    assert response.status_code == 200
    assert len(response.context["table"].page.object_list) == PER_PAGE_MAX
    assert response.content.decode().count('href="/jobs/') >= PER_PAGE_MAX


def test_csv_export_streams_every_row_whatever_the_page_size(viewer_client):
    for i in range(3):
        make_therapist(f"drift{i}@example.com", profile={"bio": "Old"})
    refresh_results()
    response = viewer_client.get(BIO + "?_export=csv&per_page=1")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1 + 3


def test_an_unknown_choice_is_a_form_error_that_does_not_repeat_the_value(viewer_client):
    value = "approved-" + "y" * 400
    response = viewer_client.get(BIO + f"?status={value}&age={value}")
    errors = re.findall(r'class="message error">([^<]*)<', response.content.decode())
    assert response.status_code == 200
    assert errors == [
        "Enrollment status: Choose one of the values offered. The filter is not applied.",
        "Inconsistent for: Choose one of the values offered. The filter is not applied.",
    ]


def profile_count(user_id):
    with connections["platform"].cursor() as cursor:
        cursor.execute("select count(*) from therapist_profiles where user_id = %s", [user_id])
        return cursor.fetchone()[0]


def test_create_profile_refuses_a_qualification_longer_than_its_column(operator_client):
    user, _, _ = make_therapist("noprofile@example.com", profile=False)
    response = operator_client.post(
        reverse("consistency:create_profile"), {"email": "noprofile@example.com", "licensed_qualification": "Q" * 51}
    )
    assert response.status_code == 302
    [message] = messages_of(response)
    assert "is 51 characters long; a profile holds at most 50" in message
    assert profile_count(user.id) == 0


def test_create_profile_accepts_a_qualification_of_exactly_50(operator_client):
    user, _, _ = make_therapist("noprofile@example.com", profile=False)
    operator_client.post(
        reverse("consistency:create_profile"), {"email": "noprofile@example.com", "licensed_qualification": "Q" * 50}
    )
    assert profile_count(user.id) == 1


def test_a_resync_of_a_huge_email_repeats_only_a_short_prefix(operator_client):
    response = operator_client.post(reverse("consistency:resync"), {"email": HUGE + "@example.com"})
    [message] = messages_of(response)
    assert "is not a valid email address" in message
    assert len(message) < 200
    assert not JobRun.objects.exists()


def test_a_nul_character_in_a_form_is_a_bad_request(operator_client):
    response = operator_client.post(reverse("consistency:resync"), {"email": "a\x00b@example.com"})
    assert response.status_code == 400
    assert not JobRun.objects.exists()


def test_a_newline_in_an_email_never_runs_as_sql(viewer_client):
    """The email is bound into the therapist-state statement; a value that ends a comment must stay a value."""
    make_therapist("victim@example.com")
    response = viewer_client.get(reverse("consistency:therapist"), {"email": "x\n; select 1/0; --"})
    assert response.status_code == 200
    assert response.context["found"] == []


def test_no_shipped_sql_has_a_placeholder_in_a_comment():
    from consistency.engine.checks import SQL_DIR

    commented = [
        f"{path.name}:{n}"
        for path in SQL_DIR.glob("*.sql")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "--" in line and re.search(r"\{[a-z_]+\}", line.split("--", 1)[1])
    ]
    assert commented == []
