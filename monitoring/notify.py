"""Send a message to a destination: Apprise for its URLs, Django's mail for an email address."""

import apprise
from django.conf import settings
from django.core.mail import send_mail


class DeliveryFailed(Exception):
    """The destination did not take the message; str() says why."""


def send(destination, title, body):
    """
    Send ``title`` and ``body`` to ``destination`` or raise DeliveryFailed.

    Apprise bounds each request by its connect and read timeouts (4 s each by default,
    ``?cto=``/``?rto=`` on the URL change them).
    """
    if destination.email:
        try:
            send_mail(title, body, settings.DEFAULT_FROM_EMAIL, [destination.email])
        except OSError as exc:  # smtplib's errors are OSErrors
            raise DeliveryFailed(f"Mail to {destination.email} failed: {exc}") from None
        return
    sender = apprise.Apprise()
    if not sender.add(destination.apprise_url):
        raise DeliveryFailed(f"Apprise does not recognise the URL of {destination}.")
    if not sender.notify(title=title, body=body):
        raise DeliveryFailed(f"{destination} did not accept the notification (see the worker's log).")
