"""Admin of alerts: destinations and rules to configure, incidents to acknowledge, notifications to read."""

from django.contrib import admin, messages

from . import alerts
from .models import AlertRule, Destination, Incident, Notification


@admin.register(Destination)
class DestinationAdmin(admin.ModelAdmin):
    list_display = ["name", "apprise_url", "email", "enabled", "receives_digest"]
    list_filter = ["enabled", "receives_digest"]
    search_fields = ["name", "email"]


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "check_name", "threshold", "enabled"]
    list_filter = ["kind", "enabled"]
    filter_horizontal = ["destinations"]


class NotificationInline(admin.TabularInline):
    model = Notification
    extra = 0
    can_delete = False
    fields = ["destination", "event", "state", "attempts", "error", "sent_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["rule", "summary", "opened_at", "cleared_at", "acknowledged_by", "acknowledged_at"]
    list_filter = ["rule", ("cleared_at", admin.EmptyFieldListFilter)]
    readonly_fields = ["rule", "key", "summary", "opened_at", "cleared_at", "acknowledged_by", "acknowledged_at"]
    inlines = [NotificationInline]
    actions = ["acknowledge"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Acknowledge the selected incidents")
    def acknowledge(self, request, queryset):
        done = sum(alerts.acknowledge(incident, request.user) for incident in queryset)
        messages.success(request, f"{done} incidents acknowledged by {request.user.get_username()}.")
