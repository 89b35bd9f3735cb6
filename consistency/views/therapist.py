"""The therapist page: one therapist's three rows, what a resync would write, and its history."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from .. import therapists
from ..checks import normalise_email, states_for_email


@login_required
def therapist_page(request):
    """Find the therapists of an email (normalised) and show each one's rows and timeline."""
    email = normalise_email(request.GET.get("email"))
    found = []
    if email:
        for state in states_for_email(email):
            found.append(
                {
                    "state": state,
                    "matrix": therapists.matrix(state),
                    "timeline": therapists.timeline(state.norm_email, [state.therapist_id]),
                }
            )
    return render(
        request,
        "consistency/therapist.html",
        {"email": email, "searched_email": request.GET.get("email", ""), "found": found, "tables": therapists.TABLES},
    )
