import re

import pytest
from django.db import connections
from django.urls import reverse

from consistency.models import AuditEntry
from interventions.models import Intervention
from tests.helpers import repair_all_job
from tests.interventions.logged import assert_stored_types, repair_link_problems, trigger_failure

pytestmark = pytest.mark.django_db(databases=["default", "platform"])

CHANGELIST = reverse("admin:interventions_intervention_changelist")


@pytest.fixture
def two_open_interventions():
    """Anna's new avatar the safety net failed to propagate; Bert, whom a repair found without a profile."""
    [bert] = repair_link_problems(without_profile=["bert@example.com"])
    anna = trigger_failure("anna@example.com", avatar_url="https://cdn.example.com/<x>.gif", constraint="<b>x</b>")
    assert_stored_types()
    return [anna, bert]


def test_changelist_filters_by_operation_and_searches_email(superuser_client, two_open_interventions):
    response = superuser_client.get(CHANGELIST + "?operation=avatar-sync")
    assert [i.entity_id for i in response.context["cl"].result_list] == ["anna@example.com"]
    response = superuser_client.get(CHANGELIST + "?operation=missing-profile")
    assert [i.entity_id for i in response.context["cl"].result_list] == ["bert@example.com"]
    response = superuser_client.get(CHANGELIST + "?q=bert")
    assert [i.entity_id for i in response.context["cl"].result_list] == ["bert@example.com"]
    html = superuser_client.get(CHANGELIST + "?resolved__exact=0").content.decode()
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html


def test_detail_shows_the_payload_as_readable_escaped_json(superuser_client, two_open_interventions):
    url = reverse("admin:interventions_intervention_change", args=[two_open_interventions[0].pk])
    html = superuser_client.get(url).content.decode()
    assert "&quot;avatar_url&quot;: &quot;https://cdn.example.com/&lt;x&gt;.gif&quot;" in html
    assert "&quot;trigger&quot;: &quot;opsdash_sync_avatar_from_users&quot;" in html
    assert "<x>" not in html


def test_bulk_resolve_asks_for_a_note_then_resolves_and_audits(superuser_client, two_open_interventions):
    ids = [str(i.pk) for i in two_open_interventions]
    response = superuser_client.post(CHANGELIST, {"action": "resolve_selected", "_selected_action": ids})
    assert "Resolve <strong>2</strong> open interventions" in response.content.decode()
    assert not Intervention.objects.filter(resolved=True).exists()
    superuser_client.post(
        CHANGELIST, {"action": "resolve_selected", "_selected_action": ids, "apply": "1", "note": "Checked by hand"}
    )
    assert (
        Intervention.objects.filter(resolved=True, resolved_by="sam", resolution_notes="Checked by hand").count() == 2
    )
    assert AuditEntry.objects.filter(action="resolve", actor_name="sam").count() == 2


def test_bulk_resolve_of_all_the_filter_selects_resolves_only_the_ids_it_confirmed(
    superuser_client, two_open_interventions
):
    filtered = CHANGELIST + "?operation=avatar-sync"
    response = superuser_client.post(
        filtered,
        {
            "action": "resolve_selected",
            "select_across": "1",
            "index": "0",
            "_selected_action": [str(two_open_interventions[0].pk)],
        },
    )
    assert "Resolve <strong>1</strong> open intervention" in response.content.decode()
    confirmed = re.findall(r'name="_selected_action" value="([^"]+)"', response.content.decode())
    assert confirmed == [str(two_open_interventions[0].pk)]
    later = Intervention.objects.create(operation="avatar-sync", entity_id="carla@example.com", error="failed")
    superuser_client.post(
        filtered, {"action": "resolve_selected", "_selected_action": confirmed, "apply": "1", "note": "Checked"}
    )
    with connections["platform"].cursor() as cursor:
        cursor.execute("select entity_id from manual_intervention_log where resolved order by 1")
        assert [row[0] for row in cursor.fetchall()] == ["anna@example.com"]
    assert Intervention.objects.get(pk=later.pk).resolved is False


def test_bulk_resolve_refuses_a_select_all_that_skipped_the_confirmation(superuser_client, two_open_interventions):
    superuser_client.post(
        CHANGELIST,
        {
            "action": "resolve_selected",
            "select_across": "1",
            "index": "0",
            "_selected_action": [],
            "apply": "1",
            "note": "Everything",
        },
    )
    assert not Intervention.objects.filter(resolved=True).exists()


def test_job_run_admin_shows_every_state(superuser_client, sam, settings):
    from tests.factories import make_therapist

    settings.OPSDASH_REPAIR_CHUNK_SIZE = 2
    make_therapist(profile={"bio": "Stale."})
    job = repair_all_job(sam)
    events = list(job.events.values_list("state", "message"))
    assert [state for state, _ in events] == ["queued", "running", "running", "succeeded"]
    html = superuser_client.get(reverse("admin:consistency_jobrun_change", args=[job.pk])).content.decode()
    assert all(message in html for _, message in events if message)
    assert "1 therapists examined, 1 changed, 0 whose repair failed" in html


def test_audit_entries_are_read_only(superuser_client, sam):
    entry = AuditEntry.objects.create(actor=sam, actor_name="sam", action="resolve", target="anna@example.com")
    listed = superuser_client.get(reverse("admin:consistency_auditentry_changelist")).context["cl"].result_list
    assert list(listed) == [entry]
    assert superuser_client.get(reverse("admin:consistency_auditentry_add")).status_code == 403
    response = superuser_client.post(reverse("admin:consistency_auditentry_delete", args=[entry.pk]), {"post": "yes"})
    assert response.status_code == 403
    change = reverse("admin:consistency_auditentry_change", args=[entry.pk])
    superuser_client.post(change, {"actor_name": "mallory", "action": "note", "target": "someone@example.com"})
    assert list(AuditEntry.objects.values_list("actor_name", "action", "target")) == [
        ("sam", "resolve", "anna@example.com")
    ]
