"""django-filter FilterSets of the intervention queue."""

from datetime import timedelta

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from opsdash.inputs import CHOICE_ERRORS

from .models import Intervention
from .queue import operations

LOGGED = {
    "1d": ("in the last day", lambda now: Q(timestamp__gte=now - timedelta(days=1))),
    "7d": ("in the last week", lambda now: Q(timestamp__gte=now - timedelta(days=7))),
    "old": ("more than a week ago", lambda now: Q(timestamp__lt=now - timedelta(days=7))),
}


class InterventionFilter(django_filters.FilterSet):
    """Filter the queue by text, operation, when logged, and regressions."""

    q = django_filters.CharFilter(method="filter_text", label="Search")
    operation = django_filters.ChoiceFilter(empty_label="Any operation", error_messages=CHOICE_ERRORS)
    logged = django_filters.ChoiceFilter(
        method="filter_logged",
        label="Logged",
        choices=[(k, v[0]) for k, v in LOGGED.items()],
        empty_label="Any time",
        error_messages=CHOICE_ERRORS,
    )
    regression = django_filters.BooleanFilter(
        method="filter_regression", label="Regressions only", widget=forms.CheckboxInput()
    )

    class Meta:
        model = Intervention
        fields = ["q", "operation", "logged", "regression"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["operation"].extra["choices"] = [(op, op) for op in operations()]

    def filter_text(self, queryset, name, value):
        # The therapist's email (entity_id) or words of the error.
        value = value.strip()
        return queryset.filter(Q(entity_id__icontains=value) | Q(error__icontains=value))

    def filter_logged(self, queryset, name, value):
        return queryset.filter(LOGGED[value][1](timezone.now()))

    def filter_regression(self, queryset, name, value):
        if not value:
            return queryset
        resolved_before = Intervention.objects.filter(
            entity_id=OuterRef("entity_id"), operation=OuterRef("operation"), resolved=True
        )
        return queryset.filter(Exists(resolved_before))
