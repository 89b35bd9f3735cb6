"""
Every GET parameter of every page, fuzzed for every role: never a 500, never a write.

Hypothesis draws a value for each parameter a page reads, plus one it does not know,
among text of any kind (NUL bytes, non-breaking spaces, very long values), numbers of
any sign and size, and values close to the valid ones.
"""

import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from consistency.models import JobKind, JobRun
from consistency.reporting.snapshots import take_snapshot
from interventions.models import Intervention
from tests.conftest import role
from tests.factories import make_therapist

pytestmark = pytest.mark.django_db(databases=["default", "platform"])

PAGING = ["sort", "page", "per_page"]
# The GET parameters each page reads (the views, their filtersets and django-tables2).
PARAMETERS = {
    "consistency:overview": [],
    "consistency:overview_live": ["every"],
    "consistency:trends": ["days"],
    "consistency:drilldown": ["email", "status", "age", "_export", *PAGING],
    "consistency:drilldown_row": ["job", "email"],
    "consistency:therapist": ["email"],
    "consistency:jobs": PAGING,
    "consistency:job": [],
    "consistency:job_live": [],
    "consistency:safety_net": [],
    "interventions:queue": ["q", "operation", "logged", "regression", *PAGING],
    "interventions:items": ["entity_id", "operation"],
}
NEAR_VALID = [
    "",
    "0",
    "-1",
    "1",
    "5",
    "25",
    "100",
    "101",
    "1000000",
    "99999999999999999999",
    "1e3",
    "abc",
    "csv",
    "email",
    "-email",
    "approved",
    "none",
    "7d",
    "30",
    "on",
    "true",
    "avatar-sync",
    "drift@example.com",
    " Drift@Example.COM\t",
    "drift@example.com\u00a0",
    "İ@example.com",
    "\x00",
    "a\x00b",
    "x" * 501,
]
VALUES = st.one_of(
    st.sampled_from(NEAR_VALID),
    st.integers().map(str),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=400, max_size=700),
)
# Tables written on purpose by a page view: the session (activity, the poll rate) and
# django-axes's access log. Everything else must stay as it was.
WRITTEN_ON_PURPOSE = ("django_session", "axes_accessattempt", "axes_accesslog", "axes_accessfailurelog")


def writes(alias):
    """Return the rows this transaction has inserted, updated or deleted so far, outside WRITTEN_ON_PURPOSE."""
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "select coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) from pg_stat_xact_user_tables"
            " where relname <> all(%s)",
            [list(WRITTEN_ON_PURPOSE)],
        )
        return cursor.fetchone()[0]


@pytest.fixture
def dashboard(django_user_model):
    """A marketplace with a drifted therapist, a snapshot, an intervention and a finished job."""
    make_therapist("drift@example.com", profile={"bio": '=HYPERLINK("http://evil.example")'})
    make_therapist("fine@example.com")
    take_snapshot()
    Intervention.objects.create(operation="avatar-sync", entity_id="drift@example.com", error="trigger failed")
    return JobRun.objects.create(kind=JobKind.REPAIR_ALL, state="succeeded")


def signed_in(django_user_model, who):
    if who == "superuser":
        user = django_user_model.objects.create_superuser(who, password="unused-password-1")
    else:
        user = django_user_model.objects.create_user(who, password="unused-password-1")
        user.groups.add(role({"viewer": "Viewers", "operator": "Operators"}[who]))
    client = Client()
    client.force_login(user)
    return client


def urls(job):
    args = {
        "consistency:drilldown": ["bio"],
        "consistency:drilldown_row": ["bio", "00000000-0000-0000-0000-000000000007"],
        "consistency:job": [job.pk],
        "consistency:job_live": [job.pk],
    }
    return [(name, reverse(name, args=args.get(name, []))) for name in PARAMETERS]


@pytest.mark.parametrize("who", ["viewer", "operator", "superuser"])
def test_no_get_parameter_gives_a_500_or_writes_anything(django_user_model, dashboard, who):
    client = signed_in(django_user_model, who)
    pages = urls(dashboard)
    before = {alias: writes(alias) for alias in ("default", "platform")}

    # No shrinking or explaining: each costs minutes here; the failing example is
    # printed as drawn, with the page and parameters in the assertion message.
    @settings(
        max_examples=6,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        phases=[Phase.explicit, Phase.generate],
    )
    @given(data=st.data())
    def fuzz(data):
        for name, url in pages:
            names = PARAMETERS[name] + [data.draw(st.sampled_from(["x", "next", "htmx", "q\x00"]), label="extra")]
            query = {p: data.draw(VALUES, label=f"{name} {p}") for p in names}
            response = client.get(url, query, headers={"HX-Request": "true"} if data.draw(st.booleans()) else {})
            if response.streaming:
                b"".join(response.streaming_content)
            assert response.status_code in (200, 400, 404), (name, query, response.status_code)

    fuzz()
    assert {alias: writes(alias) for alias in ("default", "platform")} == before
