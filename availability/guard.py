"""
Call the platform database or Redis without letting their outage take a page down.

A call that fails with a connection error, a timeout or a refused connection records
an Outage (since when, the error) and returns a fallback; the page says what is
unavailable and shows what opsdash's own database knows. While an outage was seen in
the last OPSDASH_OUTAGE_RECHECK_SECONDS the service is not tried again, so a page
with several reads waits at most one timeout; a success ends the outage.
"""

import logging
from datetime import timedelta

import redis.exceptions
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections
from django.utils import timezone
from kombu.exceptions import KombuError

from opsdash.db import PLATFORM_DB

from .models import Outage, Service

logger = logging.getLogger(__name__)

# What an unreachable, hanging or timed-out service raises. A statement timeout
# (psycopg's QueryCanceled) is an OperationalError too.
DATABASE_ERRORS = (OperationalError, InterfaceError)
BROKER_ERRORS = (KombuError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
# Around a publish, a socket error is the broker's too.
QUEUE_ERRORS = (*BROKER_ERRORS, OSError)
ERRORS = {Service.PLATFORM: DATABASE_ERRORS, Service.QUEUE: QUEUE_ERRORS}
# The longest error kept: enough to say why, never a whole statement.
ERROR_LENGTH = 300


class Unavailable(Exception):
    """A service is down; str() says which and since when."""

    def __init__(self, outage):
        self.outage = outage
        super().__init__(
            f"{outage.get_service_display()} is unavailable since {timezone.localtime(outage.since):%H:%M:%S}."
        )


def mark_down(service, exc):
    """Record that ``service`` failed now; return its Outage (kept since the first failure)."""
    now = timezone.now()
    error = " ".join(str(exc).split())[:ERROR_LENGTH] or type(exc).__name__
    outage, created = Outage.objects.get_or_create(
        service=service, defaults={"since": now, "checked_at": now, "error": error}
    )
    if not created:
        Outage.objects.filter(pk=outage.pk).update(checked_at=now, error=error)
        outage.checked_at, outage.error = now, error
    if created:
        logger.warning("%s is unavailable: %s", outage.get_service_display(), error)
    return outage


def mark_up(service):
    """Record that ``service`` answered: end its outage, if any."""
    if Outage.objects.filter(service=service).delete()[0]:
        logger.warning("%s answers again", Service(service).label)


def recent_outage(service):
    """Return the outage of ``service`` if it failed within the recheck interval, else None."""
    recheck = timezone.now() - timedelta(seconds=settings.OPSDASH_OUTAGE_RECHECK_SECONDS)
    return Outage.objects.filter(service=service, checked_at__gte=recheck).first()


def call(service, function, *args, **kwargs):
    """
    Call ``function`` that uses ``service``; raise Unavailable if the service is down.

    1. If the service failed within the recheck interval, raise at once.
    2. Call it; on a connection error or timeout, record the outage and raise.
    3. On success, end any outage of the service.
    """
    outage = recent_outage(service)
    if outage is not None:
        raise Unavailable(outage)
    try:
        result = function(*args, **kwargs)
    except ERRORS[service] as exc:
        if service == Service.PLATFORM:
            # A broken connection must not be reused by the rest of the request.
            connections[PLATFORM_DB].close_if_unusable_or_obsolete()
        raise Unavailable(mark_down(service, exc)) from exc
    mark_up(service)
    return result


def platform(function, *args, **kwargs):
    """Call ``function`` that reads or writes the platform database (see call)."""
    return call(Service.PLATFORM, function, *args, **kwargs)


def queue(function, *args, **kwargs):
    """Call ``function`` that talks to Redis (see call)."""
    return call(Service.QUEUE, function, *args, **kwargs)


def current_outages():
    """Return the services down now, oldest outage first."""
    return list(Outage.objects.all())
