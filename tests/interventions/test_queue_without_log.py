"""The intervention pages where the platform has no manual_intervention_log yet (docs/rules.md §1 allows it)."""

import pytest
from django.db import connections
from django.urls import reverse

pytestmark = pytest.mark.django_db(databases=["default", "platform"])


@pytest.fixture
def no_intervention_log():
    with connections["platform"].cursor() as cursor:
        cursor.execute("drop table manual_intervention_log")


def test_the_queue_says_there_is_no_log_yet_instead_of_a_500(no_intervention_log, viewer_client):
    response = viewer_client.get(reverse("interventions:queue"))
    assert response.status_code == 200
    assert "has no <code>manual_intervention_log</code> yet" in response.content.decode()
    assert "platform_setup" in response.content.decode()


def test_the_queue_fragment_and_the_side_panel_answer_without_a_log(no_intervention_log, viewer_client):
    fragment = viewer_client.get(reverse("interventions:queue") + "?q=x", HTTP_HX_REQUEST="true")
    items = viewer_client.get(reverse("interventions:items") + "?entity_id=a@example.com&operation=avatar-sync")
    assert (fragment.status_code, items.status_code) == (200, 200)
    assert "0 entries" in items.content.decode()


def test_the_overview_says_there_is_no_log_table_yet(no_intervention_log, viewer_client):
    response = viewer_client.get(reverse("consistency:overview"))
    assert response.status_code == 200


def test_the_therapist_page_answers_without_a_log(no_intervention_log, viewer_client):
    from tests.factories import make_therapist

    make_therapist("ana@example.com", profile={"bio": "Stale."})
    response = viewer_client.get(reverse("consistency:therapist") + "?email=ana@example.com")
    assert response.status_code == 200
    assert "ana@example.com" in response.content.decode()
