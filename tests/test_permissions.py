"""Every URL of the dashboard: who may see it, who may act, and CSRF on every POST."""

import uuid

import pytest
from django.test import Client
from django.urls import reverse

from consistency.models import JobKind, JobRun

pytestmark = pytest.mark.django_db(databases=["default", "platform"])

SOMEONE = str(uuid.UUID(int=7))


@pytest.fixture
def finished_job():
    return JobRun.objects.create(kind=JobKind.REPAIR_ALL, state="succeeded")


def pages(job):
    """Every page and fragment: (url name, arguments, query string)."""
    return [
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
        ("interventions:resolve", [], {"action": "resolve", "operation": "avatar-sync", "entity_id": "x@example.com", "note": "done"}),
        ("interventions:bulk", [], {"action": "resolve"}),
    ] + superuser_actions()


def superuser_actions():
    """The POST endpoints only a superuser (consistency.manage_safety_net) may use."""
    return [
        ("consistency:change_safety_net", ["install"], {}),
        ("consistency:change_safety_net", ["rollback"], {}),
    ]


def _url(name, args, query=""):
    return reverse(name, args=args) + query


def test_anonymous_visitor_is_sent_to_sign_in_from_every_page(client, finished_job):
    for name, args, query in pages(finished_job):
        response = client.get(_url(name, args, query))
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("login") + "?next="), name


def test_anonymous_visitor_is_sent_to_sign_in_from_every_action(client, finished_job):
    for name, args, data in actions(finished_job):
        response = client.post(_url(name, args), data)
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("login")), name


def test_viewer_sees_every_page(viewer_client, finished_job):
    for name, args, query in pages(finished_job):
        assert viewer_client.get(_url(name, args, query)).status_code == 200, name


def test_viewer_is_refused_every_action(viewer_client, finished_job):
    for name, args, data in actions(finished_job):
        assert viewer_client.post(_url(name, args), data).status_code == 403, name


def test_actions_refuse_get(superuser_client, finished_job):
    for name, args, _ in actions(finished_job):
        assert superuser_client.get(_url(name, args)).status_code == 405, name


def test_every_post_needs_the_csrf_token(olivia, finished_job):
    client = Client(enforce_csrf_checks=True)
    client.force_login(olivia)
    for name, args, data in actions(finished_job) + [("logout", [], {})]:
        assert client.post(_url(name, args), data).status_code == 403, name


def test_sign_in_needs_the_csrf_token(olivia):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "olivia", "password": "olivia-password-1"})
    assert response.status_code == 403


def test_viewer_sees_no_action_button(viewer_client, finished_job):
    from tests.factories import make_therapist
    from consistency.snapshots import take_snapshot

    make_therapist("drifted@example.com", profile={"bio": "Old"})
    take_snapshot()
    for name, args, query in pages(finished_job):
        response = viewer_client.get(_url(name, args, query))
        if response.streaming:  # the CSV export
            continue
        html = response.content.decode()
        for marker in ("Resync", "Resolve", "Refresh now", "Repair all…", "Cancel job", "Install", "Roll back"):
            assert f">{marker}" not in html, (name, marker)


def test_operator_is_refused_the_safety_net(operator_client):
    for name, args, data in superuser_actions():
        assert operator_client.post(_url(name, args), data).status_code == 403, name


def test_superuser_may_open_the_safety_net_confirmation(superuser_client):
    for name, args, data in superuser_actions():
        assert superuser_client.post(_url(name, args), data).status_code == 200, name
