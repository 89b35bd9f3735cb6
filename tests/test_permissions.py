"""Every URL of the dashboard: who may see it, who may act, and CSRF on every POST."""

import uuid

import pytest
from django.test import Client
from django.urls import reverse

from consistency import jobs
from consistency.models import AuditEntry, JobRun, MetricSnapshot, SnapshotAttempt
from consistency.safety_net import service as safety_net
from tests.factories import make_therapist
from tests.helpers import platform_contents, repair_all_job
from tests.interventions.logged import orphan_enrollments

pytestmark = pytest.mark.django_db(databases=["default", "platform"])

SOMEONE = str(uuid.UUID(int=7))


@pytest.fixture
def finished_job(olivia):
    return repair_all_job(olivia)


@pytest.fixture
def followed_resync(olivia):
    """A resync the therapist page follows: its poll answers with the job's state."""
    make_therapist("followed@example.com")
    return jobs.start_resync(olivia, "followed@example.com", queue=False)


def pages(job, resync=None):
    """Every page and fragment: (url name, arguments, query string); the resync poll given a resync to follow."""
    live = [("consistency:therapist_live", [], f"?email=followed@example.com&job={resync.pk}")] if resync else []
    return live + [
        ("consistency:overview", [], ""),
        ("consistency:overview_live", [], "?every=5"),
        ("consistency:trends", [], "?days=30"),
        ("consistency:drilldown", ["bio"], ""),
        ("consistency:drilldown", ["missing_profile"], "?_export=csv"),
        ("consistency:drilldown_row", ["bio", SOMEONE], ""),
        ("consistency:therapist", [], "?email=someone@example.com"),
        ("consistency:jobs", [], ""),
        ("consistency:job", [job.pk], ""),
        ("consistency:job_live", [job.pk], ""),
        ("consistency:safety_net", [], ""),
        ("interventions:queue", [], ""),
        ("interventions:items", [], "?entity_id=someone@example.com&operation=avatar-sync"),
    ]


def actions(job):
    """Every POST endpoint that writes, with the permission it needs: (url name, arguments, data)."""
    return [
        ("consistency:refresh_snapshot", [], {}),
        ("consistency:resync", [], {"email": "nobody@example.com"}),
        ("consistency:end_stale_job", [job.pk], {}),
        (
            "interventions:resolve",
            [],
            {"action": "resolve", "operation": "orphan-enrollment", "entity_id": "x@example.com", "note": "done"},
        ),
        (
            "interventions:bulk",
            [],
            {
                "action": "resolve",
                "operation": "orphan-enrollment",
                "note": "done",
                "confirmed": "true",
                "expected": "1",
            },
        ),
    ] + superuser_actions()


def superuser_actions():
    """The POST endpoints only a superuser (consistency.manage_safety_net) may use."""
    return [
        ("consistency:change_safety_net", ["install"], {}),
        ("consistency:change_safety_net", ["rollback"], {}),
    ]


def _url(name, args, query=""):
    return reverse(name, args=args) + query


def _traces():
    """What any action would change: jobs, audit, snapshots, the platform's rows, the safety net."""
    return {
        "jobs": list(JobRun.objects.values_list("pk", "state", "cancel_requested")),
        "audit": AuditEntry.objects.count(),
        "snapshots": MetricSnapshot.objects.count(),
        "snapshot attempts": SnapshotAttempt.objects.count(),
        "platform": platform_contents(),
        "safety net installed": safety_net.status().installed,
    }


@pytest.fixture
def assert_unchanged(finished_job):
    """
    An open intervention the resolve actions would resolve; return a function asserting
    that nothing changed since the test began.
    """
    orphan_enrollments("x@example.com")
    before = _traces()

    def check():
        assert _traces() == before

    return check


def test_anonymous_visitor_is_sent_to_sign_in_from_every_page(client, finished_job, followed_resync):
    for name, args, query in pages(finished_job, followed_resync):
        response = client.get(_url(name, args, query))
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("login") + "?next="), name


def test_anonymous_visitor_is_sent_to_sign_in_from_every_action(client, finished_job, assert_unchanged):
    for name, args, data in actions(finished_job):
        response = client.post(_url(name, args), data)
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("login")), name
    assert_unchanged()


def test_viewer_sees_every_page(viewer_client, finished_job, followed_resync):
    for name, args, query in pages(finished_job, followed_resync):
        response = viewer_client.get(_url(name, args, query))
        assert response.status_code == 200, name
        if response.streaming:  # the CSV export: a header line
            assert b"".join(response.streaming_content).split(b"\r\n")[0].startswith(b"Email,"), name
        elif response.headers.get("Content-Type", "").startswith("text/html"):
            # A page or fragment of the dashboard, not the sign-in form.
            assert 'name="password"' not in response.content.decode(), name
            assert any(t.name and t.name.startswith(("consistency/", "interventions/")) for t in response.templates), (
                name
            )


def test_viewer_is_refused_every_action(viewer_client, finished_job, assert_unchanged):
    for name, args, data in actions(finished_job):
        assert viewer_client.post(_url(name, args), data).status_code == 403, name
    assert_unchanged()


def test_actions_refuse_get(superuser_client, finished_job, assert_unchanged):
    for name, args, _ in actions(finished_job):
        assert superuser_client.get(_url(name, args)).status_code == 405, name
    assert_unchanged()


def test_every_post_needs_the_csrf_token(olivia, finished_job, assert_unchanged):
    client = Client(enforce_csrf_checks=True)
    client.force_login(olivia)
    for name, args, data in actions(finished_job) + [("logout", [], {})]:
        assert client.post(_url(name, args), data).status_code == 403, name
    assert_unchanged()
    # Still signed in: the logout without a token did nothing either.
    assert client.get(reverse("consistency:overview")).status_code == 200


def test_sign_in_needs_the_csrf_token(olivia):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "olivia", "password": "olivia-password-1"})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_viewer_sees_no_action_button(viewer_client, finished_job):
    from consistency.reporting.snapshots import take_snapshot

    make_therapist("drifted@example.com", profile={"bio": "Old"})
    take_snapshot()
    # Without a resync: the job lists would name its kind, "Resync", as this test's buttons are named.
    for name, args, query in pages(finished_job):
        response = viewer_client.get(_url(name, args, query))
        if response.streaming:  # the CSV export
            continue
        html = response.content.decode()
        for marker in ("Resync", "Resolve", "Refresh now", "Repair all…", "Cancel job", "Install", "Roll back"):
            assert f">{marker}" not in html, (name, marker)


def test_operator_is_refused_the_safety_net(operator_client, assert_unchanged):
    for name, args, data in superuser_actions():
        assert operator_client.post(_url(name, args), {**data, "confirmed": "yes"}).status_code == 403, name
    assert_unchanged()


def test_superuser_may_open_the_safety_net_confirmation(superuser_client, assert_unchanged):
    questions = {"install": "Install the safety net?", "rollback": "Roll back the safety net?"}
    for name, args, data in superuser_actions():
        response = superuser_client.post(_url(name, args), data)
        assert response.status_code == 200, name
        assert questions[args[0]] in response.content.decode(), name
    assert_unchanged()
