"""
What a request may carry, checked once for every page (opsdash.middleware).

- No parameter name or value holds a NUL character: PostgreSQL text cannot store one,
  and no email, search or id needs it.
- No query parameter value is longer than MAX_PARAMETER_LENGTH: the longest an email
  can be is 254 characters.
- Paging and id parameters are whole numbers in range: a ``per_page`` above
  PER_PAGE_MAX is capped to it (the CSV export ignores paging and streams every row),
  a value that is not a number, or below the range, is dropped as if absent.
"""

from django.http import QueryDict

MAX_PARAMETER_LENGTH = 500
PER_PAGE_MAX = 100
BIGINT_MAX = 2**63 - 1
# name: (lowest, highest); a larger value is capped to highest.
INTEGER_PARAMETERS = {"page": (1, 10**6), "per_page": (1, PER_PAGE_MAX), "job": (1, BIGINT_MAX)}
# For a form's choice fields: Django's own message repeats the value given, at any length.
CHOICE_ERRORS = {"invalid_choice": "Choose one of the values offered."}
# Longest prefix of someone's input an error message repeats.
EXCERPT_LENGTH = 60


class BadParameter(ValueError):
    """A parameter no page accepts; str() says which and why, without repeating it."""


def excerpt(value, limit=EXCERPT_LENGTH):
    """Return the input as an error message may quote it: repr() of at most ``limit`` characters."""
    text = str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text)} characters)"


def check_no_nul(data):
    """Raise BadParameter if a name or value of the QueryDict holds a NUL character."""
    for name, values in data.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            raise BadParameter(f"The parameter {excerpt(name.replace(chr(0), ''), 30)} holds a NUL character.")


def clean_query(query):
    """Return the GET QueryDict with paging and ids sanitised, or raise BadParameter."""
    check_no_nul(query)
    cleaned = QueryDict(mutable=True)
    for name, values in query.lists():
        for value in values:
            if len(value) > MAX_PARAMETER_LENGTH:
                raise BadParameter(
                    f"The parameter {excerpt(name, 30)} is {len(value)} characters long; "
                    f"at most {MAX_PARAMETER_LENGTH} are accepted."
                )
            if name in INTEGER_PARAMETERS:
                value = _integer(value, *INTEGER_PARAMETERS[name])
                if value is None:
                    continue
            cleaned.appendlist(name, value)
    cleaned._mutable = False
    return cleaned


def _integer(value, lowest, highest):
    try:
        number = int(value.strip())
    except ValueError:
        return None
    if number < lowest:
        return None
    return str(min(number, highest))
