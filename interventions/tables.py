"""django-tables2 tables of the intervention queue."""

from urllib.parse import urlencode

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

GROUP_ACTIONS = "interventions/partials/group_actions.html"


def _therapist_link(entity_id):
    if not entity_id:
        return format_html('<span class="muted">no entity</span>')
    url = reverse("consistency:therapist") + "?" + urlencode({"email": entity_id})
    return format_html('<a href="{}">{}</a>', url, entity_id)


class InterventionGroupTable(tables.Table):
    """Unresolved interventions grouped by therapist and operation, oldest first."""

    entity_id = tables.Column(verbose_name="Therapist", empty_values=())
    operation = tables.Column()
    count = tables.Column(verbose_name="Open")
    first_seen = tables.DateTimeColumn(verbose_name="First seen", format="Y-m-d H:i")
    last_seen = tables.DateTimeColumn(verbose_name="Last seen", format="Y-m-d H:i")
    latest_error = tables.Column(verbose_name="Latest error", orderable=False, attrs={"td": {"class": "text error"}})
    actions = tables.TemplateColumn(
        template_name=GROUP_ACTIONS, verbose_name="", orderable=False, exclude_from_export=True
    )

    class Meta:
        attrs = {"class": "data"}
        template_name = "tables/table.html"
        order_by = ("first_seen",)
        empty_text = "No unresolved intervention matches."
        row_attrs = {"class": lambda record: "regression" if record["regression"] else ""}

    def render_entity_id(self, record):
        link = _therapist_link(record["entity_id"])
        if record["regression"]:
            return format_html('{} <span class="pill bad" title="Resolved before, and back">regression</span>', link)
        return link

    def render_latest_error(self, value):
        # Escaped by Column rendering; the platform's error text may hold anything a user typed.
        return value
