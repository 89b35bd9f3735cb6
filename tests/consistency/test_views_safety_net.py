import pytest
from django.urls import reverse

from consistency.models import AuditEntry
from consistency.safety_net import service as safety_net

pytestmark = pytest.mark.django_db(databases=["default", "platform"])

PAGE = reverse("consistency:safety_net")
INSTALL = reverse("consistency:change_safety_net", args=["install"])
ROLLBACK = reverse("consistency:change_safety_net", args=["rollback"])


def test_page_lists_every_expected_object_not_installed(viewer_client):
    html = viewer_client.get(PAGE).content.decode()
    assert "not installed" in html
    for expected in safety_net.EXPECTED:
        assert expected.name in html


def test_overview_shows_each_trigger(viewer_client):
    html = viewer_client.get(reverse("consistency:overview")).content.decode()
    triggers = [e.name for e in safety_net.EXPECTED if e.kind == safety_net.TRIGGER]
    assert all(name in html for name in triggers)


def test_operator_may_not_install(operator_client):
    assert operator_client.post(INSTALL, {"confirmed": "yes"}).status_code == 403
    assert not safety_net.status().installed


def test_install_asks_to_confirm_first(superuser_client):
    response = superuser_client.post(INSTALL)
    assert "Install the safety net?" in response.content.decode()
    assert not safety_net.status().installed


def test_superuser_installs_then_rolls_back_with_audit(superuser_client):
    response = superuser_client.post(INSTALL, {"confirmed": "yes"}, follow=True)
    assert "Install done: the safety net is installed." in response.content.decode()
    assert safety_net.status().installed
    superuser_client.post(ROLLBACK, {"confirmed": "yes"})
    assert safety_net.status().state == safety_net.State.NOT_INSTALLED
    assert list(AuditEntry.objects.order_by("at").values_list("action", "actor_name")) == [
        ("safety_net_install", "sam"),
        ("safety_net_rollback", "sam"),
    ]


def test_drifted_trigger_shows_on_the_page(viewer_client):
    safety_net.install()
    from django.db import connections

    with connections["platform"].cursor() as cursor:
        cursor.execute("alter table users disable trigger opsdash_sync_avatar_from_users")
    html = viewer_client.get(PAGE).content.decode()
    assert "✗ disabled" in html


def drop_trigger(name, table):
    from django.db import connections

    with connections["platform"].cursor() as cursor:
        cursor.execute(f"drop trigger {name} on {table}")


def test_fresh_install_offers_install_only_and_marks_nothing_red(superuser_client):
    html = superuser_client.get(PAGE).content.decode()
    assert "The safety net is not installed." in html and "python manage.py safety_net install" in html
    assert "✗" not in html and 'class="pill bad"' not in html
    assert "Install…" in html and "Roll back…" not in html


def test_partial_install_is_red_and_offers_both_actions(superuser_client):
    safety_net.install()
    drop_trigger("opsdash_sync_avatar_from_users", "users")
    html = superuser_client.get(PAGE).content.decode()
    assert '<span class="pill bad">partially installed</span>' in html
    assert html.count("✗ missing") == 1
    assert "Install…" in html and "Roll back…" in html
    assert "The safety net is not installed." not in html


def test_installed_safety_net_offers_roll_back_only(superuser_client):
    safety_net.install()
    html = superuser_client.get(PAGE).content.decode()
    assert '<span class="pill good">installed</span>' in html
    assert "Roll back…" in html and "Install…" not in html
