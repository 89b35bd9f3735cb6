from datetime import timedelta

import pytest
from django.core import signing
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from consistency.models import AuditEntry
from interventions import selection
from interventions.log import resolve_open
from interventions.models import Intervention
from tests.interventions.logged import (
    assert_stored_types,
    logged_ago,
    logged_by_the_platform,
    orphan_enrollments,
    repair_link_problems,
    trigger_failure,
)

pytestmark = pytest.mark.django_db(databases=["default", "platform"])

QUEUE = reverse("interventions:queue")
RESOLVE = reverse("interventions:resolve")
BULK = reverse("interventions:bulk")


@pytest.fixture
def open_queue():
    """
    Four open interventions, each from the writer that logs it in production: Bert has
    no profile (a repair, 3 days ago), Cleo's enrollment is an orphan
    (log_orphan_enrollments, a day ago), the safety net failed to propagate Anna's and
    Dora's new avatars (the trigger, 2 hours and 1 hour ago).
    """
    logged_ago(repair_link_problems(without_profile=["bert@example.com"]), timedelta(days=3))
    logged_ago(orphan_enrollments("cleo@example.com"), timedelta(days=1))
    logged_ago([trigger_failure("anna@example.com")], timedelta(hours=2))
    logged_ago([trigger_failure("dora@example.com")], timedelta(hours=1))
    assert_stored_types()


def test_queue_groups_by_therapist_and_operation_oldest_first(viewer_client, open_queue):
    response = viewer_client.get(QUEUE)
    groups = [(g.record["entity_id"], g.record["operation"], g.record["count"]) for g in response.context["table"].rows]
    assert groups == [
        ("bert@example.com", "missing-profile", 1),
        ("cleo@example.com", "orphan-enrollment", 1),
        ("anna@example.com", "avatar-sync", 1),
        ("dora@example.com", "avatar-sync", 1),
    ]
    assert response.context["open_count"] == 4


def test_problem_back_after_resolution_is_marked_regression(viewer_client, open_queue):
    resolve_open("avatar-sync", "anna@example.com", resolved_by="bob", note="Re-uploaded")
    trigger_failure("anna@example.com", avatar_url="https://cdn.example.com/again.gif")
    html = viewer_client.get(QUEUE).content.decode()
    assert html.count(">regression</span>") == 1
    regression = viewer_client.get(QUEUE + "?regression=true").context["table"].rows
    assert [(g.record["entity_id"], g.record["operation"]) for g in regression] == [("anna@example.com", "avatar-sync")]


def test_error_text_is_escaped(viewer_client):
    # The error is PostgreSQL's message, which names the constraint that refused the write.
    trigger_failure("anna@example.com", constraint='<script>alert("owned")</script>')
    assert_stored_types()
    html = viewer_client.get(QUEUE).content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;" in html


def test_details_show_every_item_with_its_payload_escaped(viewer_client):
    trigger_failure("anna@example.com", avatar_url="https://cdn.example.com/<img src=x>.gif", constraint="<b>bold</b>")
    assert_stored_types()
    url = reverse("interventions:items") + "?entity_id=anna@example.com&operation=avatar-sync"
    html = viewer_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "&lt;img src=x&gt;" in html
    assert "<img src=x>" not in html and "<b>bold" not in html
    assert "opsdash_sync_avatar_from_users" in html


def test_search_matches_email_and_error(viewer_client, open_queue):
    assert viewer_client.get(QUEUE + "?q=BERT").context["open_count"] == 1
    assert viewer_client.get(QUEUE + "?q=violates check constraint").context["open_count"] == 2
    assert viewer_client.get(QUEUE + "?q=never signed in").context["open_count"] == 1


def test_filter_by_operation_and_age(viewer_client, open_queue):
    assert viewer_client.get(QUEUE + "?operation=avatar-sync").context["open_count"] == 2
    assert viewer_client.get(QUEUE + "?operation=orphan-enrollment").context["open_count"] == 1
    assert viewer_client.get(QUEUE + "?logged=old").context["open_count"] == 0
    assert viewer_client.get(QUEUE + "?logged=7d").context["open_count"] == 4


def test_htmx_request_gets_the_results_alone(viewer_client, open_queue):
    html = viewer_client.get(QUEUE + "?q=anna", headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in html and "anna@example.com" in html
    assert "bert@example.com" not in html and "dora@example.com" not in html


def test_operator_resolves_a_group_with_a_note(operator_client, open_queue):
    response = operator_client.post(
        RESOLVE,
        {
            "action": "resolve",
            "entity_id": "anna@example.com",
            "operation": "avatar-sync",
            "note": "Re-uploaded the avatar",
        },
    )
    assert response.status_code == 302
    resolved = Intervention.objects.filter(entity_id="anna@example.com", operation="avatar-sync")
    assert [(i.resolved, i.resolved_by, i.resolution_notes) for i in resolved] == [
        (True, "olivia", "Re-uploaded the avatar")
    ]
    assert all(i.resolved_at for i in resolved)
    assert Intervention.objects.exclude(resolved=True).count() == 3
    audit = AuditEntry.objects.get()
    assert (audit.actor_name, audit.action, audit.target, audit.details["count"]) == (
        "olivia",
        "resolve",
        "anna@example.com",
        1,
    )


def test_resolve_without_a_note_is_refused_and_changes_nothing(operator_client, open_queue):
    response = operator_client.post(
        RESOLVE,
        {"action": "resolve", "entity_id": "anna@example.com", "operation": "avatar-sync", "note": " "},
        follow=True,
    )
    assert "Say what was done" in response.content.decode()
    assert Intervention.objects.exclude(resolved=True).count() == 4


def test_operator_resolves_one_item(operator_client, open_queue):
    item = Intervention.objects.get(operation="avatar-sync", entity_id="anna@example.com")
    operator_client.post(RESOLVE, {"action": "resolve", "ids": str(item.pk), "note": "done"})
    assert list(Intervention.objects.filter(resolved=True).values_list("pk", flat=True)) == [item.pk]


def test_note_is_added_without_resolving(operator_client, open_queue):
    operator_client.post(
        RESOLVE,
        {"action": "note", "entity_id": "bert@example.com", "operation": "missing-profile", "note": "Asked Bert"},
    )
    operator_client.post(
        RESOLVE,
        {"action": "note", "entity_id": "bert@example.com", "operation": "missing-profile", "note": "Bert replied"},
    )
    item = Intervention.objects.get(entity_id="bert@example.com")
    assert item.resolved is False
    assert item.resolution_notes.count("olivia]") == 2 and item.resolution_notes.endswith("Bert replied")
    assert AuditEntry.objects.filter(action="note").count() == 2


def test_bulk_asks_to_confirm_with_the_exact_count_first(operator_client, open_queue):
    response = operator_client.post(BULK, {"action": "resolve", "operation": "avatar-sync"})
    assert response.status_code == 200
    assert "Resolve 2 interventions?" in response.content.decode()
    assert Intervention.objects.exclude(resolved=True).count() == 4


def confirm(client, **data):
    """Ask for a bulk action's confirmation; return the response (its context pins the selection)."""
    return client.post(BULK, data)


def apply(client, confirmation, note="Fixed in bulk", **extra):
    """Act as the confirmation page's form does, with what it pinned."""
    data = {
        "action": confirmation.context["action"],
        "selection": confirmation.context["selection"],
        "confirmed": "true",
        "note": note,
        **extra,
    }
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
    still_open = Intervention.objects.exclude(resolved=True).order_by("entity_id")
    assert list(still_open.values_list("entity_id", flat=True)) == ["bert@example.com", "cleo@example.com"]


def test_bulk_leaves_interventions_logged_after_the_confirmation_alone(operator_client, open_queue):
    confirmation = confirm(operator_client, action="resolve", operation="avatar-sync")
    # Logged after the count was shown (now() inside the test's transaction would not be).
    later = trigger_failure("erin@example.com")
    Intervention.objects.filter(pk=later.pk).update(timestamp=timezone.now())
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
    assert (
        "The selection no longer matches what you confirmed." in html
        and "Operation: Choose one of the values offered." in html
    )
    assert open_ids() == bert  # Bert's profile-sync is still open
    # Counting again with that operation is refused too.
    response = operator_client.post(BULK, {"action": "resolve", "operation": "avatar-sync"}, follow=True)
    assert "The filter is not valid, so nothing was selected and nothing was changed" in response.content.decode()
    assert open_ids() == bert
    assert not AuditEntry.objects.exists()


def test_bulk_refuses_a_search_with_a_nul_byte_instead_of_resolving_everything(operator_client, open_queue):
    before = open_ids()
    for data in (
        {"action": "resolve", "q": "anna\x00"},
        {"action": "resolve", "q": "anna\x00", "confirmed": "true", "note": "Everything?"},
    ):
        response = operator_client.post(BULK, data, follow=True)
        # Refused before any view sees it (opsdash.middleware), with a message that says why.
        assert response.status_code == 400
        assert "The parameter 'q' holds a NUL character." in response.content.decode()
    assert open_ids() == before and len(before) == 4


def test_bulk_acts_on_the_pinned_filter_not_on_what_the_form_sends(operator_client, open_queue):
    confirmation = confirm(operator_client, action="resolve", operation="avatar-sync")
    others = [i for i in open_ids() if Intervention.objects.get(pk=i).operation != "avatar-sync"]
    apply(operator_client, confirmation, operation="", q="")  # a widened filter in the POST is ignored
    assert open_ids() == others and len(others) == 2


def test_bulk_refuses_when_the_selection_changed_since_it_was_confirmed(operator_client, open_queue):
    confirmation = confirm(operator_client, action="resolve", operation="avatar-sync")
    assert confirmation.context["count"] == 2
    # The platform logs one with a timestamp before the count, as a late batch import would.
    logged_ago([trigger_failure("erin@example.com")], timedelta(minutes=30))
    before = open_ids()
    response = apply(operator_client, confirmation)
    assert "The selection no longer matches what you confirmed (2 counted then, 3 now)" in response.content.decode()
    assert "Nothing was changed; confirm again." in response.content.decode()
    assert open_ids() == before


def test_bulk_refuses_a_forged_confirmation(operator_client, open_queue):
    # A token claiming no filter (every open intervention), signed without the server's key.
    pin = {"params": [], "as_of": timezone.now().isoformat(), "count": 3, "digest": "0" * 64}
    token = signing.dumps(pin, salt=selection.SALT, key="not-the-secret-key")
    response = operator_client.post(
        BULK, {"action": "resolve", "selection": token, "confirmed": "true", "note": "x"}, follow=True
    )
    assert "This confirmation is not valid: nothing was changed." in response.content.decode()
    assert len(open_ids()) == 4


def test_queue_with_an_invalid_filter_lists_nothing_and_offers_no_bulk_action(operator_client, open_queue):
    response = operator_client.get(QUEUE + "?operation=no-such-operation")
    html = response.content.decode()
    assert response.context["open_count"] == 0
    assert "The filter is not valid, so it selects nothing: Operation: Choose one of the values offered." in html
    assert "Resolve all…" not in html
    assert "Resolve all…" in operator_client.get(QUEUE + "?operation=avatar-sync").content.decode()


def test_viewer_sees_no_resolve_button(viewer_client, open_queue):
    html = viewer_client.get(QUEUE).content.decode()
    assert "Resolve" not in html and "Add a note" not in html


def test_retry_queues_one_resync_per_therapist_and_audits(operator_client, isolated_queue):
    from consistency.models import JobRun

    failure = trigger_failure("anna@example.com")
    operator_client.post(RESOLVE, {"action": "retry", "entity_id": "anna@example.com", "operation": "avatar-sync"})
    job = JobRun.objects.get()
    assert job.target == "anna@example.com"
    retry = AuditEntry.objects.get(action="retry")
    assert (retry.job, retry.details["interventions"]) == (job, [str(failure.pk)])
    assert isolated_queue.queued() == 1


def test_retry_of_a_therapist_logged_by_user_id(operator_client, isolated_queue):
    from consistency.models import JobRun
    from tests.factories import make_therapist

    user, _, _ = make_therapist("Bert@Example.com")
    logged_by_the_platform("profile-sync", str(user.id), "profile sync failed", {"user_id": str(user.id)})
    operator_client.post(RESOLVE, {"action": "retry", "entity_id": str(user.id), "operation": "profile-sync"})
    assert JobRun.objects.get().target == "bert@example.com"


def test_retry_of_an_unknown_therapist_says_so(operator_client, isolated_queue):
    orphan_enrollments("gone@example.com")
    response = operator_client.post(
        RESOLVE, {"action": "retry", "entity_id": "gone@example.com", "operation": "orphan-enrollment"}, follow=True
    )
    assert "gone@example.com: not retried." in response.content.decode()
