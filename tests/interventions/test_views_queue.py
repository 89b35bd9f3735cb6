from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from consistency.models import AuditEntry
from interventions.models import Intervention

pytestmark = pytest.mark.django_db(databases=["default", "platform"])

QUEUE = reverse("interventions:queue")
RESOLVE = reverse("interventions:resolve")
BULK = reverse("interventions:bulk")


def log(operation="avatar-sync", entity_id="anna@example.com", error="avatar sync failed", ago=timedelta(0), **fields):
    fields.setdefault("payload", {"user_id": "u1"})
    item = Intervention.objects.create(operation=operation, entity_id=entity_id, error=error, **fields)
    if ago:
        Intervention.objects.filter(pk=item.pk).update(timestamp=timezone.now() - ago)
    return item


@pytest.fixture
def open_queue():
    """Anna has two avatar-sync failures, Bert an older profile-sync one; one of Anna's was resolved before."""
    log(ago=timedelta(hours=2))
    log(ago=timedelta(hours=1))
    log("profile-sync", "bert@example.com", "profile sync failed", ago=timedelta(days=3))
    log("missing-profile", "anna@example.com", "no profile", ago=timedelta(days=9), resolved=True, resolved_by="bob")


def test_queue_groups_by_therapist_and_operation_oldest_first(viewer_client, open_queue):
    response = viewer_client.get(QUEUE)
    groups = [(g.record["entity_id"], g.record["operation"], g.record["count"]) for g in response.context["table"].rows]
    assert groups == [("bert@example.com", "profile-sync", 1), ("anna@example.com", "avatar-sync", 2)]
    assert response.context["open_count"] == 3


def test_problem_back_after_resolution_is_marked_regression(viewer_client, open_queue):
    log("missing-profile", "anna@example.com", "no profile again")
    html = viewer_client.get(QUEUE).content.decode()
    assert html.count(">regression</span>") == 1


def test_error_text_is_escaped(viewer_client):
    log(error='<script>alert("owned")</script>')
    html = viewer_client.get(QUEUE).content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;" in html


def test_details_show_every_item_with_its_payload_escaped(viewer_client):
    log(error="<b>bold</b>", payload={"note": "<img src=x>"})
    url = reverse("interventions:items") + "?entity_id=anna@example.com&operation=avatar-sync"
    html = viewer_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "&lt;img src=x&gt;" in html


def test_search_matches_email_and_error(viewer_client, open_queue):
    assert viewer_client.get(QUEUE + "?q=BERT").context["open_count"] == 1
    assert viewer_client.get(QUEUE + "?q=avatar sync").context["open_count"] == 2


def test_filter_by_operation_and_age(viewer_client, open_queue):
    assert viewer_client.get(QUEUE + "?operation=avatar-sync").context["open_count"] == 2
    assert viewer_client.get(QUEUE + "?logged=old").context["open_count"] == 0
    assert viewer_client.get(QUEUE + "?logged=7d").context["open_count"] == 3


def test_htmx_request_gets_the_results_alone(viewer_client, open_queue):
    html = viewer_client.get(QUEUE + "?q=anna", headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in html and "anna@example.com" in html


def test_operator_resolves_a_group_with_a_note(operator_client, open_queue):
    response = operator_client.post(
        RESOLVE, {"action": "resolve", "entity_id": "anna@example.com", "operation": "avatar-sync", "note": "Re-uploaded the avatar"}
    )
    assert response.status_code == 302
    resolved = Intervention.objects.filter(entity_id="anna@example.com", operation="avatar-sync")
    assert [(i.resolved, i.resolved_by, i.resolution_notes) for i in resolved] == [(True, "olivia", "Re-uploaded the avatar")] * 2
    assert all(i.resolved_at for i in resolved)
    audit = AuditEntry.objects.get()
    assert (audit.actor_name, audit.action, audit.target, audit.details["count"]) == ("olivia", "resolve", "anna@example.com", 2)


def test_resolve_without_a_note_is_refused_and_changes_nothing(operator_client, open_queue):
    response = operator_client.post(RESOLVE, {"action": "resolve", "entity_id": "anna@example.com", "operation": "avatar-sync", "note": " "}, follow=True)
    assert "Say what was done" in response.content.decode()
    assert Intervention.objects.exclude(resolved=True).count() == 3


def test_operator_resolves_one_item(operator_client, open_queue):
    item = Intervention.objects.filter(operation="avatar-sync").first()
    operator_client.post(RESOLVE, {"action": "resolve", "ids": str(item.pk), "note": "done"})
    assert Intervention.objects.filter(operation="avatar-sync", resolved=True).count() == 1


def test_note_is_added_without_resolving(operator_client, open_queue):
    operator_client.post(RESOLVE, {"action": "note", "entity_id": "bert@example.com", "operation": "profile-sync", "note": "Asked Bert"})
    operator_client.post(RESOLVE, {"action": "note", "entity_id": "bert@example.com", "operation": "profile-sync", "note": "Bert replied"})
    item = Intervention.objects.get(entity_id="bert@example.com")
    assert item.resolved is False
    assert item.resolution_notes.count("olivia]") == 2 and item.resolution_notes.endswith("Bert replied")
    assert AuditEntry.objects.filter(action="note").count() == 2


def test_bulk_asks_to_confirm_with_the_exact_count_first(operator_client, open_queue):
    response = operator_client.post(BULK, {"action": "resolve", "operation": "avatar-sync"})
    assert response.status_code == 200
    assert "Resolve 2 interventions?" in response.content.decode()
    assert Intervention.objects.exclude(resolved=True).count() == 3


def test_bulk_acts_on_the_filter_after_confirmation(operator_client, open_queue):
    confirm = operator_client.post(BULK, {"action": "resolve", "operation": "avatar-sync"})
    as_of = confirm.context["as_of"].isoformat()
    response = operator_client.post(
        BULK,
        {"action": "resolve", "operation": "avatar-sync", "note": "Fixed in bulk", "confirmed": "true", "as_of": as_of, "expected": "2"},
        follow=True,
    )
    assert "Resolved 2 interventions." in response.content.decode()
    assert Intervention.objects.exclude(resolved=True).get().entity_id == "bert@example.com"


def test_bulk_leaves_interventions_logged_after_the_confirmation_alone(operator_client, open_queue):
    confirm = operator_client.post(BULK, {"action": "resolve", "operation": "avatar-sync"})
    # Logged after the count was shown (now() inside the test's transaction would not be).
    later = log(timestamp=timezone.now())
    operator_client.post(
        BULK,
        {"action": "resolve", "operation": "avatar-sync", "note": "x", "confirmed": "true",
         "as_of": confirm.context["as_of"].isoformat(), "expected": "2"},
    )
    later.refresh_from_db()
    assert later.resolved is False


def test_viewer_sees_no_resolve_button(viewer_client, open_queue):
    html = viewer_client.get(QUEUE).content.decode()
    assert "Resolve" not in html and "Add a note" not in html


def test_retry_queues_one_resync_per_therapist_and_audits(operator_client, isolated_queue):
    from consistency.models import JobRun
    from tests.factories import make_therapist

    make_therapist("anna@example.com")
    log()
    log()
    operator_client.post(RESOLVE, {"action": "retry", "entity_id": "anna@example.com", "operation": "avatar-sync"})
    job = JobRun.objects.get()
    assert job.target == "anna@example.com"
    retry = AuditEntry.objects.get(action="retry")
    assert (retry.job, len(retry.details["interventions"])) == (job, 2)
    assert isolated_queue.queued() == 1


def test_retry_of_a_therapist_logged_by_user_id(operator_client, isolated_queue):
    from consistency.models import JobRun
    from tests.factories import make_therapist

    user, _, _ = make_therapist("Bert@Example.com")
    log("profile-sync", str(user.id))
    operator_client.post(RESOLVE, {"action": "retry", "entity_id": str(user.id), "operation": "profile-sync"})
    assert JobRun.objects.get().target == "bert@example.com"


def test_retry_of_an_unknown_therapist_says_so(operator_client, isolated_queue):
    log(entity_id="gone@example.com")
    response = operator_client.post(
        RESOLVE, {"action": "retry", "entity_id": "gone@example.com", "operation": "avatar-sync"}, follow=True
    )
    assert "gone@example.com: not retried." in response.content.decode()
