"""Template filters the dashboard's pages share."""

import json

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from consistency.models import PLACEHOLDER_IMAGE

register = template.Library()


@register.filter
def percent_of(part, whole):
    """Render ``part`` as a percentage of ``whole`` with one decimal."""
    if not whole or part is None:
        return "–"
    return f"{100 * part / whole:.1f}%"


@register.filter
def stored_value(value):
    """
    Render a platform value so that NULL, an empty string and the placeholder differ.

    docs/rules.md §3 compares with IS NOT DISTINCT FROM: an empty string is not NULL, and the
    page has to show why two cells that look blank disagree.
    """
    if value is None:
        return mark_safe('<span class="null">NULL</span>')
    if value == "":
        return mark_safe('<span class="null">empty</span>')
    if value == PLACEHOLDER_IMAGE:
        return format_html('<span class="null" title="{}">placeholder</span>', PLACEHOLDER_IMAGE)
    if isinstance(value, bool):
        return format_html('<span class="bool bool-{}">{}</span>', str(value).lower(), str(value).lower())
    if isinstance(value, (list, tuple)):
        if not value:
            return mark_safe('<span class="null">{}</span>')
        return format_html('<span class="list">{}</span>', ", ".join(str(item) for item in value))
    return value


@register.filter
def pretty_json(value):
    """Render a JSON value indented, for a <pre> block (escaped by the template)."""
    return json.dumps(value, indent=2, sort_keys=True, default=str)


@register.filter
def label(name):
    """Turn a check or link-problem name into words: duplicate_user -> duplicate user."""
    return str(name).replace("_", " ")
