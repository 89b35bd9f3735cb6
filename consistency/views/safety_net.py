"""The safety-net page: the triggers' status, and install or roll back with a confirmation."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db import DatabaseError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from psycopg.errors import InsufficientPrivilege

from availability import guard
from consistency.platform import setup as platform_setup
from consistency.safety_net import service as safety_net

from ..models import AuditAction
from ..models.audit import record

MANAGE = "consistency.manage_safety_net"
OPERATIONS = {
    "install": (safety_net.install, AuditAction.SAFETY_NET_INSTALL, "Install"),
    "rollback": (safety_net.rollback, AuditAction.SAFETY_NET_ROLLBACK, "Roll back"),
}


@login_required
def safety_net_page(request):
    """
    Show, per expected trigger, function and index, whether it exists, is enabled and is the shipped one.

    Beside them, the recommended indexes of platform_setup: whether each exists and is valid.
    """
    try:
        status, indexes = guard.platform(lambda: (safety_net.status(), platform_setup.index_status()))
    except guard.Unavailable:
        status, indexes = None, []
    return render(request, "consistency/safety_net.html", {"status": status, "indexes": indexes})


@login_required
@permission_required(MANAGE, raise_exception=True)
@require_POST
def change_safety_net(request, operation):
    """
    Install or roll back the safety net, in two steps.

    1. Without ``confirmed``: show what is there now and ask to confirm.
    2. With it: run it in one transaction, record who did it, show the new status.
    """
    if operation not in OPERATIONS:
        return redirect("consistency:safety_net")
    run, action, verb = OPERATIONS[operation]
    if request.POST.get("confirmed") != "yes":
        return render(
            request,
            "consistency/confirm_safety_net.html",
            {"status": safety_net.status(), "operation": operation, "verb": verb},
        )
    try:
        status = run()
    except (safety_net.SafetyNetError, DatabaseError) as exc:
        reason = exc
        if isinstance(exc.__cause__, InsufficientPrivilege):
            # opsdash runs as a role without DDL rights (README, "Least privilege").
            reason = (
                "opsdash's database role may not change the platform's schema; the owner of its tables runs "
                f"`python manage.py safety_net {operation}` (or `platform_setup`)"
            )
        messages.error(request, f"{verb} failed, nothing was changed: {reason}")
        return redirect("consistency:safety_net")
    record(request.user, action, "safety net", state=str(status.state))
    messages.success(request, f"{verb} done: the safety net is {status.state}.")
    return redirect("consistency:safety_net")
