"""Answer a request that met an outage the view did not handle with a clear page, never a 500."""

from django.contrib import messages
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from opsdash.db import PLATFORM_DB

from . import guard
from .models import Service


def _database_alias(exc):
    """
    Return the alias of the connection a database error came from, or None.

    Django's errors do not name their database, but the frames they were raised
    through belong to its connection (DatabaseWrapper.ensure_connection) or to a
    cursor over it (CursorWrapper.execute).
    """
    traceback = exc.__traceback__
    while traceback is not None:
        owner = traceback.tb_frame.f_locals.get("self")
        if isinstance(owner, BaseDatabaseWrapper):
            return owner.alias
        if isinstance(owner, CursorWrapper):
            return owner.db.alias
        traceback = traceback.tb_next
    return None


def _service_of(exc):
    if isinstance(exc, guard.Unavailable):
        return exc.outage.service
    if isinstance(exc, guard.DATABASE_ERRORS):
        if _database_alias(exc) != PLATFORM_DB:
            return None
        guard.mark_down(Service.PLATFORM, exc)
        connections[PLATFORM_DB].close_if_unusable_or_obsolete()
        return Service.PLATFORM
    if isinstance(exc, guard.BROKER_ERRORS):
        guard.mark_down(Service.QUEUE, exc)
        return Service.QUEUE
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
            if url_has_allowed_host_and_scheme(
                back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
            ):
                return redirect(back)
            return redirect("consistency:overview")
        return render(request, "availability/unavailable.html", {"service": label}, status=503)
