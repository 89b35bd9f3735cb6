"""django-filter FilterSets of the consistency pages."""

from datetime import timedelta

import django_filters
from django.utils import timezone

from consistency.engine.checks import normalise_email
from opsdash.inputs import CHOICE_ERRORS

from .models import EnrollmentStatus, TherapistResult

NO_ENROLLMENT = "none"
# "Age" on the drill-down is how long a therapist has been inconsistent.
AGES = {"1h": timedelta(hours=1), "1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}


class TherapistResultFilter(django_filters.FilterSet):
    """Filter a drill-down by email, enrollment status and how long the therapist has been failing."""

    email = django_filters.CharFilter(method="filter_email", label="Email contains")
    status = django_filters.ChoiceFilter(
        method="filter_status",
        label="Enrollment status",
        choices=EnrollmentStatus.choices + [(NO_ENROLLMENT, "No enrollment")],
        empty_label="Any status",
        error_messages=CHOICE_ERRORS,
    )
    age = django_filters.ChoiceFilter(
        method="filter_age",
        label="Inconsistent for",
        choices=[
            ("1h", "an hour or more"),
            ("1d", "a day or more"),
            ("7d", "a week or more"),
            ("30d", "30 days or more"),
        ],
        empty_label="Any time",
        error_messages=CHOICE_ERRORS,
    )

    class Meta:
        model = TherapistResult
        fields = []

    def filter_email(self, queryset, name, value):
        # Compared as docs/rules.md §2 normalises: a pasted " Alice@Example.com" still matches.
        return queryset.filter(norm_email__contains=normalise_email(value))

    def filter_status(self, queryset, name, value):
        if value == NO_ENROLLMENT:
            return queryset.filter(e_status__isnull=True)
        return queryset.filter(e_status=value)

    def filter_age(self, queryset, name, value):
        return queryset.filter(failing_since__lte=timezone.now() - AGES[value])
