"""
What a bulk action acts on: exactly the interventions its confirmation page counted.

django-filter drops a field that does not validate (an operation no longer among the
choices, a search with a NUL byte) and filters on the others, so a filter rebuilt from
a request can silently select more than it did. Here an invalid filter is refused, and
the confirmation page carries a signed token that pins the validated filter, the moment
of the count (``as_of``), the count and a digest of the ids. Acting, the same filter as
of the same moment must select the same ids, or nothing is done and the operator is
told why.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from django.core import signing
from django.utils import timezone
from django.utils.text import Truncator

from . import queue
from .filters import InterventionFilter

SALT = "interventions.bulk-selection"
# A confirmation older than this is refused: the operator counts again.
MAX_AGE = 60 * 60


class SelectionError(Exception):
    """The bulk action cannot act on this selection; str() says why."""


@dataclass
class Selection:
    """The open interventions a validated filter selects, logged up to ``as_of``."""

    params: list
    as_of: datetime
    ids: list = field(repr=False)

    @property
    def count(self):
        return len(self.ids)

    @property
    def digest(self):
        return hashlib.sha256(",".join(self.ids).encode()).hexdigest()

    @property
    def token(self):
        """Return the signed token the confirmation page carries."""
        return signing.dumps(
            {"params": self.params, "as_of": self.as_of.isoformat(), "count": self.count, "digest": self.digest},
            salt=SALT,
        )

    def interventions(self):
        return queue.unresolved().filter(id__in=self.ids)


def filter_errors(filterset):
    """Return the filter's errors as short sentences, naming the field (never a long echo of the input)."""
    return [
        f"{filterset.form.fields[name].label or name}: {Truncator(error).chars(120)}"
        for name, errors in filterset.form.errors.items()
        for error in errors
    ]


def filter_params(filterset):
    """Return the (name, value) pairs of the filter in use."""
    return [(name, filterset.data[name]) for name in filterset.filters if filterset.data.get(name)]


def _select(data, as_of):
    filterset = InterventionFilter(data, queryset=queue.unresolved())
    if not filterset.is_valid():
        raise SelectionError(
            "The filter is not valid, so nothing was selected and nothing was changed: "
            + "; ".join(filter_errors(filterset))
        )
    ids = filterset.qs.filter(timestamp__lte=as_of).order_by("id").values_list("id", flat=True)
    return Selection(filter_params(filterset), as_of, [str(pk) for pk in ids])


def select(data):
    """Return what the filter in ``data`` selects now; raise SelectionError if it is not valid."""
    return _select(data, timezone.now())


def pinned(token):
    """
    Return the selection a confirmation page pinned, unchanged; raise SelectionError otherwise.

    Refused when the token is forged or expired, when the pinned filter no longer
    validates, and when it now selects other interventions than were counted.
    """
    try:
        pin = signing.loads(token, salt=SALT, max_age=MAX_AGE)
    except signing.SignatureExpired:
        raise SelectionError(
            "This confirmation has expired: nothing was changed. Count again from the queue."
        ) from None
    except signing.BadSignature:
        raise SelectionError(
            "This confirmation is not valid: nothing was changed. Count again from the queue."
        ) from None
    try:
        selection = _select(dict(pin["params"]), datetime.fromisoformat(pin["as_of"]))
    except SelectionError as exc:
        raise SelectionError(f"The selection no longer matches what you confirmed. {exc}") from None
    if selection.digest != pin["digest"]:
        raise SelectionError(
            f"The selection no longer matches what you confirmed ({pin['count']} counted then, "
            f"{selection.count} now): some were resolved or changed meanwhile. Nothing was changed; confirm again."
        )
    return selection
