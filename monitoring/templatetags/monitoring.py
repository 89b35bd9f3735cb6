from django import template

from .. import alerts, health

register = template.Library()


@register.inclusion_tag("monitoring/partials/health_strip.html")
def health_strip():
    """Render the workers, queue and snapshot health, and the open incidents, for the overview."""
    alerts.evaluate_health_soon()
    return {"health": health.health(), "incidents": list(alerts.open_incidents()[:10])}
