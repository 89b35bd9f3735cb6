"""Serializers of the JSON API: opsdash's own models and the platform's intervention log."""

from rest_framework import serializers

from consistency.jobs import report as job_report
from consistency.models import JobEvent, JobRun, MetricSnapshot
from interventions.models import Intervention


class SnapshotSerializer(serializers.ModelSerializer):
    class Meta:
        model = MetricSnapshot
        fields = [
            "id", "taken_at", "source", "job", "therapists", "consistent", "inconsistent", "link_problems",
            "unresolved_interventions", "duration_ms",
        ]  # fmt: skip


class InterventionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Intervention
        fields = [
            "id",
            "operation",
            "entity_id",
            "error",
            "payload",
            "timestamp",
            "resolved",
            "resolved_at",
            "resolved_by",
            "resolution_notes",
        ]


class JobEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobEvent
        fields = ["state", "at", "message"]


class JobSerializer(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    url = serializers.HyperlinkedIdentityField(view_name="api:job")

    class Meta:
        model = JobRun
        fields = [
            "id", "url", "kind", "target", "dry_run", "requested_by", "state", "cancel_requested",
            "progress_done", "progress_total", "therapists_total", "therapists_changed", "therapists_failed",
            "interventions_logged", "interventions_resolved", "error", "created_at", "started_at", "finished_at",
        ]  # fmt: skip


class JobReportSerializer(JobSerializer):
    """One job with what its page shows: every state, the columns changed, the metrics before and after."""

    events = JobEventSerializer(many=True, read_only=True)
    changed_columns = serializers.SerializerMethodField()
    metric_changes = serializers.SerializerMethodField()

    class Meta(JobSerializer.Meta):
        fields = JobSerializer.Meta.fields + [
            "rows_changed",
            "metrics_before",
            "metrics_after",
            "events",
            "changed_columns",
            "metric_changes",
        ]

    def get_changed_columns(self, job) -> list[dict]:
        return [{"table": t, "column": c, "rows": n} for t, c, n in job_report.changed_columns(job)]

    def get_metric_changes(self, job) -> list[dict]:
        return job_report.metric_changes(job)


class TherapistStateSerializer(serializers.Serializer):
    """One therapist's state: its checks, link problems and the values of its three rows."""

    therapist_id = serializers.UUIDField(source="row.therapist_id")
    consistent = serializers.SerializerMethodField()
    failing_checks = serializers.ListField(child=serializers.CharField())
    link_problems = serializers.ListField(child=serializers.CharField())
    row = serializers.DictField(
        help_text="Every column of the therapist's state (consistency/sql/therapist_state.sql)."
    )

    def get_consistent(self, state) -> bool:
        return not state.failing_checks and not state.link_problems


class EmailSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=255)
