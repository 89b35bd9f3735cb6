"""Every request: no caching, throttled sign-in, sessions that live polls neither write nor extend."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from consistency.models import JobKind, JobRun
from opsdash.middleware import ACTIVITY_KEY
from tests.test_permissions import SOMEONE, pages

pytestmark = pytest.mark.django_db(databases=["default", "platform"])

LOGIN = reverse("login")


@pytest.fixture
def finished_job():
    return JobRun.objects.create(kind=JobKind.REPAIR_ALL, state="succeeded")


def test_every_page_says_private_no_store(viewer_client, finished_job):
    for name, args, query in pages(finished_job):
        response = viewer_client.get(reverse(name, args=args) + query)
        cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
        assert {"private", "no-store"} <= cache_control, name


def test_sign_in_page_says_private_no_store(client):
    assert {"private", "no-store"} <= {p.strip() for p in client.get(LOGIN)["Cache-Control"].split(",")}


def sign_in(client, password, username="olivia"):
    return client.post(LOGIN, {"username": username, "password": password})


def signed_in(client):
    return client.get(reverse("consistency:overview")).status_code == 200


def test_sign_in_is_locked_after_repeated_failures_even_with_the_right_password(olivia, settings):
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "wrong-password")

    response = sign_in(client, "olivia-password-1")

    assert response.status_code == 429
    assert "Sign-in locked" in response.content.decode()
    assert not signed_in(client)


def test_lockout_is_per_user_and_address(olivia, victor, settings):
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(attacker, "wrong-password")

    same_address_other_user = Client(REMOTE_ADDR="203.0.113.7")
    sign_in(same_address_other_user, "victor-password-1", username="victor")
    same_user_other_address = Client(REMOTE_ADDR="198.51.100.4")
    sign_in(same_user_other_address, "olivia-password-1")

    assert signed_in(same_address_other_user)
    assert signed_in(same_user_other_address)


def test_axes_reset_lifts_the_lock(olivia, settings):
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "wrong-password")
    assert sign_in(client, "olivia-password-1").status_code == 429

    call_command("axes_reset")

    sign_in(client, "olivia-password-1")
    assert signed_in(client)


def stored_session(client):
    """Return (session_data, expire_date) as the database holds them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "select session_data, expire_date from django_session where session_key = %s",
            [client.cookies["sessionid"].value],
        )
        return cursor.fetchone()


def test_polls_neither_write_nor_extend_the_session(viewer_client, finished_job):
    viewer_client.get(reverse("consistency:overview"))
    viewer_client.get(reverse("consistency:overview_live") + "?every=15")  # the rate chosen, remembered once
    before = stored_session(viewer_client)

    for _ in range(3):
        assert viewer_client.get(reverse("consistency:overview_live") + "?every=15").status_code == 200
        assert viewer_client.get(reverse("consistency:overview_live")).status_code == 200
        assert viewer_client.get(reverse("consistency:job_live", args=[finished_job.pk])).status_code == 200
        row = reverse("consistency:drilldown_row", args=["bio", SOMEONE]) + f"?job={finished_job.pk}"
        assert viewer_client.get(row).status_code == 200

    assert stored_session(viewer_client) == before


def test_choosing_another_poll_rate_is_remembered(viewer_client):
    viewer_client.get(reverse("consistency:overview_live") + "?every=15")
    viewer_client.get(reverse("consistency:overview_live") + "?every=60")
    assert viewer_client.session["overview_refresh_rate"] == 60


def test_a_page_view_extends_the_session(viewer_client):
    viewer_client.get(reverse("consistency:jobs"))
    session = viewer_client.session
    session[ACTIVITY_KEY] = 0  # the last page view was long ago
    session.save()
    _, expires_before = stored_session(viewer_client)

    viewer_client.get(reverse("consistency:jobs"))

    _, expires_after = stored_session(viewer_client)
    assert expires_after > expires_before


def test_session_cookie_lasts_the_idle_time(viewer_client, settings):
    response = viewer_client.get(reverse("consistency:jobs"))
    viewer_client.session[ACTIVITY_KEY]  # the view recorded the activity
    assert response.cookies["sessionid"]["max-age"] == settings.SESSION_COOKIE_AGE
