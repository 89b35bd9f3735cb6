"""Django admin for the platform's manual_intervention_log (docs/rules.md §1)."""

import json

from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.html import format_html

from consistency.permissions import RUN_JOBS

from . import actions
from .models import Intervention


@admin.register(Intervention)
class InterventionAdmin(admin.ModelAdmin):
    """
    The intervention log, read-only but for its actions.

    Resolving goes through the same functions as the queue page, so it records who,
    when and why on the row and leaves an audit entry; a hand edit of the row would not.
    """

    list_display = ("timestamp", "operation", "entity_id", "short_error", "resolved", "resolved_by", "resolved_at")
    list_filter = ("operation", "resolved", ("timestamp", admin.DateFieldListFilter))
    search_fields = ("entity_id",)
    date_hierarchy = "timestamp"
    ordering = ("-timestamp",)
    fields = (
        "id",
        "operation",
        "entity_id",
        "error",
        "readable_payload",
        "timestamp",
        "resolved",
        "resolved_at",
        "resolved_by",
        "resolution_notes",
    )
    readonly_fields = fields
    actions = ["resolve_selected", "retry_selected"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_resolve_permission(self, request):
        return request.user.has_perm("interventions.resolve_intervention")

    def has_retry_permission(self, request):
        return self.has_resolve_permission(request) and request.user.has_perm(RUN_JOBS)

    @admin.display(description="error")
    def short_error(self, obj):
        return obj.error if len(obj.error) <= 80 else obj.error[:79] + "…"

    @admin.display(description="payload")
    def readable_payload(self, obj):
        if obj.payload is None:
            return "–"
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True, default=str))

    @admin.action(description="Resolve the selected interventions…", permissions=["resolve"])
    def resolve_selected(self, request, queryset):
        """
        Ask for a note, then resolve the selected open interventions with it.

        The confirmation lists the ids it counted, even when "select all" chose them by the
        list's filter, and posts them back without ``select_across``: so the second step
        acts on those ids only, never on whatever the filter selects by then.
        """
        note = request.POST.get("note", "").strip()
        if "apply" in request.POST and request.POST.get("select_across") not in (None, "", "0"):
            self.message_user(
                request, "Resolve from the confirmation page, which lists what it resolves.", messages.ERROR
            )
            return None
        if "apply" in request.POST and note:
            n = actions.resolve(queryset, request.user, note)
            self.message_user(request, f"Resolved {n} intervention{'' if n == 1 else 's'}.", messages.SUCCESS)
            return None
        return TemplateResponse(
            request,
            "admin/interventions/resolve_selected.html",
            {
                **self.admin_site.each_context(request),
                "title": "Resolve interventions",
                "opts": self.model._meta,
                "queryset": queryset,
                "open_count": queryset.exclude(resolved=True).count(),
                "action": "resolve_selected",
                "note_missing": "apply" in request.POST,
            },
        )

    @admin.action(description="Retry: queue a resync of the selected interventions' therapists", permissions=["retry"])
    def retry_selected(self, request, queryset):
        """Queue one resync per therapist among the selected open interventions."""
        jobs, errors = actions.retry(queryset, request.user)
        for entity_id, error in errors:
            self.message_user(request, f"{entity_id or 'No entity'}: not retried. {error}", messages.ERROR)
        self.message_user(request, f"Queued {len(jobs)} resync{'' if len(jobs) == 1 else 'es'}.", messages.SUCCESS)
