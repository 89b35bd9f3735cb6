"""Answer a request that met an outage the view did not handle with a clear page, never a 500."""

from django.contrib import messages
from django.db import connections
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from . import guard
from .models import Service


def _platform_is_down():
    """Tell whether the platform database fails to answer (bounded by its connect timeout)."""
    connection = connections["platform"]
    connection.close()
    try:
        guard.platform(connection.ensure_connection)
    except guard.Unavailable:
        return True
    return False


def _service_of(exc):
    if isinstance(exc, guard.Unavailable):
        return exc.outage.service
    if isinstance(exc, guard.QUEUE_ERRORS) and not isinstance(exc, guard.DATABASE_ERRORS):
        guard.mark_down(Service.QUEUE, exc)
        return Service.QUEUE
    # A database error names no database: opsdash's own one is assumed up (this
    # request got past the session and the sign-in), so look at the platform's.
    if isinstance(exc, guard.DATABASE_ERRORS) and _platform_is_down():
        return Service.PLATFORM
    return None


class OutageMiddleware:
    """Turn an outage of the platform database or Redis into a 503 page or a message, never a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exc):
        service = _service_of(exc)
        if service is None:
            return None
        label = Service(service).label
        if request.method == "POST" and not getattr(request, "htmx", False):
            messages.error(request, f"{label} is unavailable: nothing was done. Try again when it is back.")
            back = request.headers.get("referer", "")
            if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
                return redirect(back)
            return redirect("consistency:overview")
        return render(request, "availability/unavailable.html", {"service": label}, status=503)
