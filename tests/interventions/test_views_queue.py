from datetime import timedelta

import pytest
from django.core import signing
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from consistency.models import AuditEntry
from interventions import selection
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


def confirm(client, **data):
    """Ask for a bulk action's confirmation; return the response (its context pins the selection)."""
    return client.post(BULK, data)


def apply(client, confirmation, note="Fixed in bulk", **extra):
    """Act as the confirmation page's form does, with what it pinned."""
    data = {"action": confirmation.context["action"], "selection": confirmation.context["selection"],
            "confirmed": "true", "note": note, **extra}
    return client.post(BULK, data, follow=True)


def open_ids():
    """The ids of the open interventions, read with SQL (not through the queue's filter)."""
    with connections["platform"].cursor() as cursor:
        cursor.execute("select id::text from manual_intervention_log where resolved is not true order by 1")
        return [row[0] for row in cursor.fetchall()]


def test_bulk_acts_on_the_filter_after_confirmation(operator_client, open_queue):
    confirmation = confirm(operator_client, action="resolve", operation="avatar-sync")
    response = apply(operator_client, confirmation)
    assert "Resolved 2 interventions." in response.content.decode()
    assert Intervention.objects.exclude(resolved=True).get().entity_id == "bert@example.com"


def test_bulk_leaves_interventions_logged_after_the_confirmation_alone(operator_client, open_queue):
    confirmation = confirm(operator_client, action="resolve", operation="avatar-sync")
    # Logged after the count was shown (now() inside the test's transaction would not be).
    later = log(timestamp=timezone.now())
    assert "Resolved 2 interventions." in apply(operator_client, confirmation).content.decode()
    later.refresh_from_db()
    assert later.resolved is False


def test_bulk_refuses_an_operation_no_longer_open_instead_of_resolving_everything(operator_client, open_queue):
    # Another operator resolves every avatar-sync: the filter's choice is gone.
    confirmation = confirm(operator_client, action="resolve", operation="avatar-sync")
    Intervention.objects.filter(operation="avatar-sync").update(resolved=True)
    bert = open_ids()
    response = apply(operator_client, confirmation)
    html = response.content.decode()
    assert "The selection no longer matches what you confirmed." in html and "Operation: Select a valid choice." in html
    assert open_ids() == bert  # Bert's profile-sync is still open
    # Counting again with that operation is refused too.
    response = operator_client.post(BULK, {"action": "resolve", "operation": "avatar-sync"}, follow=True)
    assert "The filter is not valid, so nothing was selected and nothing was changed" in response.content.decode()
    assert open_ids() == bert
    assert not AuditEntry.objects.exists()


def test_bulk_refuses_a_search_with_a_nul_byte_instead_of_resolving_everything(operator_client, open_queue):
    before = open_ids()
    for data in ({"action": "resolve", "q": "anna\x00"},
                 {"action": "resolve", "q": "anna\x00", "confirmed": "true", "note": "Everything?"}):
        response = operator_client.post(BULK, data, follow=True)
        assert "The filter is not valid, so nothing was selected and nothing was changed: Search:" in response.content.decode()
    assert open_ids() == before and len(before) == 3


def test_bulk_acts_on_the_pinned_filter_not_on_what_the_form_sends(operator_client, open_queue):
    confirmation = confirm(operator_client, action="resolve", operation="avatar-sync")
    bert = [i for i in open_ids() if Intervention.objects.get(pk=i).entity_id == "bert@example.com"]
    apply(operator_client, confirmation, operation="", q="")  # a widened filter in the POST is ignored
    assert open_ids() == bert


def test_bulk_refuses_when_the_selection_changed_since_it_was_confirmed(operator_client, open_queue):
    confirmation = confirm(operator_client, action="resolve", operation="avatar-sync")
    assert confirmation.context["count"] == 2
    # The platform logs one with a timestamp before the count, as a late batch import would.
    log(ago=timedelta(minutes=30))
    before = open_ids()
    response = apply(operator_client, confirmation)
    assert "The selection no longer matches what you confirmed (2 counted then, 3 now)" in response.content.decode()
    assert "Nothing was changed; confirm again." in response.content.decode()
    assert open_ids() == before


def test_bulk_refuses_a_forged_confirmation(operator_client, open_queue):
    # A token claiming no filter (every open intervention), signed without the server's key.
    pin = {"params": [], "as_of": timezone.now().isoformat(), "count": 3, "digest": "0" * 64}
    token = signing.dumps(pin, salt=selection.SALT, key="not-the-secret-key")
    response = operator_client.post(BULK, {"action": "resolve", "selection": token, "confirmed": "true", "note": "x"}, follow=True)
    assert "This confirmation is not valid: nothing was changed." in response.content.decode()
    assert len(open_ids()) == 3


def test_queue_with_an_invalid_filter_lists_nothing_and_offers_no_bulk_action(operator_client, open_queue):
    response = operator_client.get(QUEUE + "?operation=no-such-operation")
    html = response.content.decode()
    assert response.context["open_count"] == 0
    assert "The filter is not valid, so it selects nothing: Operation: Select a valid choice." in html
    assert "Resolve all…" not in html
    assert "Resolve all…" in operator_client.get(QUEUE + "?operation=avatar-sync").content.decode()


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
