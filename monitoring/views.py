"""Liveness, readiness and Prometheus endpoints: no session, nothing told beyond up or down."""

import ipaddress

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import health
from .metrics import registry


@never_cache
@require_GET
def healthz(request):
    """Answer that the process runs; touch no database."""
    return HttpResponse("ok\n", content_type="text/plain")


@never_cache
@require_GET
def readyz(request):
    """Report each dependency up or down, 200 when all are up, else 503."""
    checks = health.readiness()
    ready = all(checks.values())
    body = {
        "status": "up" if ready else "down",
        "checks": {name: "up" if up else "down" for name, up in checks.items()},
    }
    return JsonResponse(body, status=200 if ready else 503)


def _allowed(request):
    """Tell whether the scraper holds the bearer token or comes from an allowed address."""
    token = settings.OPSDASH_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and constant_time_compare(header[len("Bearer ") :].strip(), token):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(allowed, strict=False) for allowed in settings.OPSDASH_METRICS_ALLOWED_IPS
    )


@never_cache
@require_GET
def metrics(request):
    """Serve the Prometheus metrics to a scraper with the token or from an allowed address."""
    if not _allowed(request):
        response = HttpResponse(
            "Forbidden: send Authorization: Bearer <OPSDASH_METRICS_TOKEN>.\n", status=403, content_type="text/plain"
        )
        response["WWW-Authenticate"] = "Bearer"
        return response
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
