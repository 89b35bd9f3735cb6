from .guard import current_outages


def outages(request):
    """Put the services down now into every page, for the banner of base.html."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {"outages": current_outages()}
