"""django-tables2 tables of the consistency pages."""

from urllib.parse import urlencode

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from .catalogue import THERAPIST_PROBLEMS
from .models import JobRun, TherapistResult
from .templatetags.opsdash import label, stored_value

# Every value a drill-down may show side by side (consistency.catalogue: each problem's columns).
VALUE_COLUMNS = tuple(dict.fromkeys(c for problem in THERAPIST_PROBLEMS.values() for c in problem.columns))

RESYNC_BUTTON = """{% if record.norm_email %}
<button type="button" class="small" hx-post="{% url 'consistency:resync' %}"
  hx-vals='{"email": "{{ record.norm_email|escapejs }}", "problem": "{{ table.problem }}", "row": "{{ record.therapist_id }}"}'
  hx-target="closest tr" hx-swap="outerHTML" hx-disabled-elt="this">Resync</button>{% endif %}"""


def therapist_url(email, **params):
    """Return the therapist page of a normalised email, with more query parameters."""
    return reverse("consistency:therapist") + "?" + urlencode({"email": email, **params})


class ValueColumn(tables.Column):
    """A platform value, with NULL, empty text and the placeholder told apart."""

    empty_values = ()

    def __init__(self, *args, **kwargs):
        # Sorting ~100,000 rows by a bio at each request is what the drill-down table
        # exists to avoid: the sortable columns are those with an index.
        kwargs.setdefault("orderable", False)
        super().__init__(*args, **kwargs)

    def render(self, value):
        return stored_value(value)

    def value(self, value):
        if value is None:
            return ""
        if isinstance(value, list):
            return "; ".join(value)
        return value


class TherapistResultTable(tables.Table):
    """The therapists failing one check or link problem, with the values that disagree."""

    email = tables.Column(
        accessor="u_email", order_by="norm_email", linkify=lambda record: therapist_url(record.norm_email)
    )
    status = ValueColumn(
        accessor="e_status", verbose_name="Enrollment status", orderable=True, order_by=("e_status", "norm_email")
    )
    failing_since = tables.DateTimeColumn(
        verbose_name="Inconsistent since", format="Y-m-d H:i", order_by=("failing_since", "norm_email")
    )
    problems = tables.Column(accessor="therapist_id", verbose_name="Also failing", orderable=False)
    e_profile_image_url = ValueColumn(verbose_name="Enrollment image")
    u_avatar_url = ValueColumn(verbose_name="User avatar")
    p_profile_image_url = ValueColumn(verbose_name="Profile image")
    e_bio = ValueColumn(verbose_name="Enrollment bio", attrs={"td": {"class": "text"}})
    p_bio = ValueColumn(verbose_name="Profile bio", attrs={"td": {"class": "text"}})
    e_experience_years = ValueColumn(verbose_name="Enrollment experience")
    p_experience_years = ValueColumn(verbose_name="Profile experience")
    p_verification_status = ValueColumn(verbose_name="Profile status")
    p_is_verified = ValueColumn(verbose_name="Profile verified")
    u_is_verified = ValueColumn(verbose_name="User verified")
    e_is_active = ValueColumn(verbose_name="Enrollment active")
    u_is_active = ValueColumn(verbose_name="User active")
    e_full_name = ValueColumn(verbose_name="Enrollment name")
    u_full_name = ValueColumn(verbose_name="User name")
    e_list = ValueColumn(verbose_name="Enrollment specializations")
    p_specializations = ValueColumn(verbose_name="Profile specializations")
    e_email = ValueColumn(verbose_name="Enrollment email")
    e_user_id = ValueColumn(verbose_name="Enrollment user id")
    enrollment_count = ValueColumn(verbose_name="Enrollments")
    e_id = ValueColumn(verbose_name="Canonical enrollment")
    norm_email = ValueColumn(verbose_name="Normalised email")
    actions = tables.TemplateColumn(RESYNC_BUTTON, verbose_name="", orderable=False, exclude_from_export=True)

    class Meta:
        model = TherapistResult
        fields = ("email", "status", "failing_since", "problems") + VALUE_COLUMNS + ("actions",)
        order_by = ("email",)
        attrs = {"class": "data"}
        row_attrs = {"id": lambda record: f"result-{record.therapist_id}"}
        template_name = "consistency/partials/result_table.html"
        empty_text = "No therapist fails this: nothing to repair."

    def __init__(self, data, problem, can_resync=False, **kwargs):
        self.problem = problem
        shown = THERAPIST_PROBLEMS[problem].columns
        exclude = [c for c in VALUE_COLUMNS if c not in shown]
        if not can_resync:
            exclude.append("actions")
        sequence = ("email", "status") + shown + ("failing_since", "problems", "...")
        super().__init__(data, exclude=exclude, sequence=sequence, **kwargs)

    def render_problems(self, record):
        others = [p for p in record.failing_checks + record.link_problems if p != self.problem]
        return format_html_join(" ", '<span class="pill warn">{}</span>', ((label(p),) for p in others)) or "–"

    def value_problems(self, record):
        return "; ".join(p for p in record.failing_checks + record.link_problems if p != self.problem)


class JobRunTable(tables.Table):
    """The job history."""

    id = tables.Column(verbose_name="Job", linkify=lambda record: reverse("consistency:job", args=[record.pk]))
    kind = tables.Column()
    target = tables.Column(verbose_name="Therapist", empty_values=(), orderable=False)
    requested_by = tables.Column(verbose_name="Started by", default="opsdash")
    state = tables.Column()
    created_at = tables.DateTimeColumn(verbose_name="Started", format="Y-m-d H:i:s")
    duration = tables.Column(empty_values=(), orderable=False)
    # The figure the job's page shows: therapists, not rows; a dry run's would change.
    therapists_changed = tables.Column(verbose_name="Therapists changed")
    interventions_resolved = tables.Column(verbose_name="Interventions resolved")

    class Meta:
        model = JobRun
        fields = (
            "id",
            "kind",
            "target",
            "state",
            "requested_by",
            "created_at",
            "duration",
            "therapists_changed",
            "interventions_resolved",
        )
        attrs = {"class": "data"}
        template_name = "tables/table.html"
        empty_text = "No job has run yet."

    def render_kind(self, record):
        kind = record.get_kind_display()
        return format_html('{} <span class="pill">dry run</span>', kind) if record.dry_run else kind

    def render_target(self, record):
        if not record.target:
            return "everyone"
        return format_html('<a href="{}">{}</a>', therapist_url(record.target), record.target)

    def render_state(self, record):
        return format_html('<span class="state state-{}">{}</span>', record.state, record.get_state_display())

    def render_duration(self, record):
        return _duration(record.duration)

    def render_therapists_changed(self, record):
        if record.dry_run:
            return format_html('{} <span class="muted">would change</span>', record.therapists_changed)
        return record.therapists_changed


def _duration(delta):
    if delta is None:
        return "–"
    seconds = delta.total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds} s"
