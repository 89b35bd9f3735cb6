"""Django admin for opsdash's own records: job runs with their states, audit entries, snapshots."""

from django.contrib import admin

from .models import AuditEntry, JobEvent, JobRun, MetricSnapshot, SnapshotAttempt


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened: shown, never edited or deleted by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class JobEventInline(admin.TabularInline):
    model = JobEvent
    fields = ("at", "state", "message")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "kind",
        "target",
        "dry_run",
        "state",
        "requested_by",
        "created_at",
        "duration",
        "interventions_resolved",
    )
    list_filter = ("kind", "state", "dry_run", ("created_at", admin.DateFieldListFilter))
    search_fields = ("target", "requested_by__username", "celery_task_id")
    date_hierarchy = "created_at"
    inlines = [JobEventInline]
    list_select_related = ("requested_by",)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor_name", "action", "target", "job")
    list_filter = ("action", ("at", admin.DateFieldListFilter))
    search_fields = ("target", "actor_name")
    date_hierarchy = "at"


@admin.register(MetricSnapshot)
class MetricSnapshotAdmin(ReadOnlyAdmin):
    list_display = ("taken_at", "source", "therapists", "consistent", "unresolved_interventions", "duration_ms", "job")
    list_filter = ("source",)
    date_hierarchy = "taken_at"


@admin.register(SnapshotAttempt)
class SnapshotAttemptAdmin(ReadOnlyAdmin):
    list_display = ("requested_at", "source", "state", "started_at", "finished_at", "error", "snapshot", "job")
    list_filter = ("state", "source")
    date_hierarchy = "requested_at"
