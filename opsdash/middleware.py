"""Middleware of every request: no caching, checked parameters, sessions that polls do not extend."""

import time

from django.http import HttpResponseBadRequest
from django.utils.cache import patch_cache_control

from .inputs import BadParameter, check_no_nul, clean_query

# A page view extends the session at most once a minute (one session write).
ACTIVITY_RESOLUTION = 60
ACTIVITY_KEY = "_opsdash_seen"


def polled(view):
    """Mark a view as polled by htmx: its requests never write or extend the session."""
    view.polled = True
    return view


class NoStoreMiddleware:
    """Tell browsers and proxies to keep no copy of any page: they show platform data to signed-in staff."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        patch_cache_control(response, private=True, no_store=True)
        return response


class QueryParameterMiddleware:
    """Answer 400 to a NUL byte or an oversized value; sanitise paging and id parameters (opsdash.inputs)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            request.GET = clean_query(request.GET)
            if request.method == "POST" and request.content_type in (
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            ):
                check_no_nul(request.POST)
        except BadParameter as exc:
            return HttpResponseBadRequest(f"Bad request: {exc}\n", content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class SessionActivityMiddleware:
    """
    Extend a signed-in session on page views, never on polls.

    SESSION_SAVE_EVERY_REQUEST is off, so a session is written only when something in
    it changes. A page view records the time (once a minute at most), which saves the
    session and so pushes its expiry SESSION_COOKIE_AGE ahead; a view marked
    @polled does not, so a tab left open signs out after the idle time.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(view_func, "polled", False) or not request.user.is_authenticated:
            return None
        now = int(time.time())
        if now - request.session.get(ACTIVITY_KEY, 0) >= ACTIVITY_RESOLUTION:
            request.session[ACTIVITY_KEY] = now
        return None
