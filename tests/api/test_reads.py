"""The read-only API: the pages' figures as JSON, for any account with a token."""

from datetime import timedelta

import pytest
from django.db import connections
from rest_framework.test import APIClient

from consistency.models import JobEvent, JobKind, JobRun, JobState
from consistency.reporting.snapshots import take_snapshot
from interventions.models import Intervention
from tests.factories import make_therapist
from tests.monitoring.conftest import make_snapshot

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


def test_a_request_without_a_token_is_refused():
    response = APIClient().get("/api/metrics/")
    assert response.status_code == 401


def test_a_token_an_operator_creates_in_the_admin_works_until_revoked(superuser_client, victor):
    response = superuser_client.post("/admin/authtoken/tokenproxy/add/", {"user": victor.pk})
    assert response.status_code == 302
    with connections["default"].cursor() as cursor:
        cursor.execute("select key from authtoken_token where user_id = %s", [victor.pk])
        (key,) = cursor.fetchone()
    make_snapshot()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/metrics/").status_code == 200
    superuser_client.post(f"/admin/authtoken/tokenproxy/{victor.pk}/delete/", {"post": "yes"})
    assert api.get("/api/metrics/").status_code == 401


def test_latest_metrics_are_those_of_the_newest_snapshot(viewer_api):
    make_snapshot(age=timedelta(hours=1), consistent=10)
    make_snapshot(consistent=95, failing={"bio": 5})
    body = viewer_api.get("/api/metrics/").json()
    assert body["consistent"] == 95
    assert body["inconsistent"]["bio"] == 5


def test_no_snapshot_yet_is_a_404_that_says_so(viewer_api):
    response = viewer_api.get("/api/metrics/")
    assert response.status_code == 404
    assert "No snapshot" in response.json()["detail"]


def test_snapshot_history_is_paginated_within_the_time_range(viewer_api):
    for hours in (1, 2, 3, 30):
        make_snapshot(age=timedelta(hours=hours), consistent=hours)
    since = (make_snapshot(age=timedelta(hours=4), consistent=4).taken_at).isoformat()
    body = viewer_api.get("/api/snapshots/", {"since": since, "page_size": 2}).json()
    assert body["count"] == 4  # 1, 2, 3 and 4 hours ago; not 30
    assert [s["consistent"] for s in body["results"]] == [1, 2]
    assert [s["consistent"] for s in viewer_api.get(body["next"]).json()["results"]] == [3, 4]


def test_a_malformed_time_says_what_is_expected(viewer_api):
    response = viewer_api.get("/api/snapshots/", {"since": "yesterday"})
    assert response.status_code == 400
    assert "ISO 8601" in response.json()["since"]


def test_a_therapist_is_found_by_email_whatever_its_case(viewer_api):
    user, _, _ = make_therapist(email="Drifted@Example.com", profile={"bio": "Old bio"})
    body = viewer_api.get("/api/therapists/", {"email": " drifted@example.COM "}).json()
    assert len(body) == 1
    assert body[0]["therapist_id"] == str(user.id)
    assert body[0]["consistent"] is False
    assert body[0]["failing_checks"] == ["bio"]


def test_an_unknown_therapist_is_a_404(viewer_api):
    response = viewer_api.get("/api/therapists/", {"email": "nobody@example.com"})
    assert response.status_code == 404
    assert "nobody@example.com" in response.json()["detail"]


def test_interventions_are_filtered_as_the_queue_filters_them(viewer_api):
    Intervention.objects.create(operation="avatar-sync", entity_id="a@example.com", error="timeout")
    Intervention.objects.create(operation="missing-profile", entity_id="b@example.com", error="no profile")
    Intervention.objects.create(operation="avatar-sync", entity_id="c@example.com", error="x", resolved=True)
    body = viewer_api.get("/api/interventions/", {"operation": "avatar-sync"}).json()
    assert [i["entity_id"] for i in body["results"]] == ["a@example.com"]
    body = viewer_api.get("/api/interventions/", {"q": "no profile"}).json()
    assert [i["entity_id"] for i in body["results"]] == ["b@example.com"]
    Intervention.objects.create(operation="avatar-sync", entity_id="c@example.com", error="back again")
    body = viewer_api.get("/api/interventions/", {"regression": "on"}).json()
    assert [i["error"] for i in body["results"]] == ["back again"]


def test_jobs_are_listed_and_one_job_has_its_report(viewer_api, olivia):
    make_therapist(profile={"bio": "Old bio"})
    job = JobRun.objects.create(
        kind=JobKind.REPAIR_ALL, state=JobState.SUCCEEDED, requested_by=olivia,
        rows_changed={"therapist_profiles": {"bio": 1}}, metrics_before={"consistent": 0}, metrics_after={"consistent": 1},
    )  # fmt: skip
    JobEvent.objects.create(job=job, state=JobState.SUCCEEDED, message="1 therapists examined")
    listed = viewer_api.get("/api/jobs/").json()["results"]
    assert [(j["id"], j["requested_by"]) for j in listed] == [(job.pk, "olivia")]
    report = viewer_api.get(listed[0]["url"]).json()
    assert report["changed_columns"] == [{"table": "therapist_profiles", "column": "bio", "rows": 1}]
    assert report["metric_changes"][0] == {"name": "consistent", "before": 0, "after": 1, "delta": 1}
    assert report["events"][0]["message"] == "1 therapists examined"


def test_the_openapi_schema_is_served(viewer_api):
    response = viewer_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    schema = response.json()
    assert "/api/jobs/resync/" in schema["paths"]
    assert "/api/snapshots/" in schema["paths"]


def test_take_snapshot_feeds_the_api(viewer_api):
    make_therapist()
    take_snapshot()
    assert viewer_api.get("/api/metrics/").json()["therapists"] == 1
