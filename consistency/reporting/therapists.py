"""
Gather what the therapist page shows: the three rows side by side, and what happened to it.

Which cells disagree is not decided here: the dry run of a resync (jobs.resync_preview)
lists every value the repair rules of docs/rules.md §4 would write, so a cell disagrees exactly
when the preview would change it, and the rules stay in the repair SQL.
"""

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from itertools import chain

from django.db.models import Q

from consistency.models import AuditEntry, JobRun
from interventions.models import Intervention
from interventions.schema import intervention_log_exists

# Where each field lives (table, column) in users, the enrollment and the profile, and
# the source of truth docs/rules.md §4 names for it.
USERS, ENROLLMENT, PROFILE = "users", "therapist_enrollments", "therapist_profiles"
TABLES = (USERS, ENROLLMENT, PROFILE)


@dataclass(frozen=True)
class Field:
    name: str
    check: str | None  # the check of docs/rules.md §3 (or link problem) that compares it
    cells: dict  # table -> the therapist_state.sql column holding its value
    columns: dict  # table -> the platform column, as resync_preview names it
    primary: str | None  # the table docs/rules.md §4 takes the value from, when it has one
    source: str  # the rule, in words


FIELDS = (
    Field(
        "name",
        "name",
        {USERS: "u_full_name", ENROLLMENT: "e_full_name"},
        {USERS: "full_name", ENROLLMENT: "full_name"},
        ENROLLMENT,
        "the enrollment's full_name",
    ),
    Field(
        "avatar",
        "avatar",
        {USERS: "u_avatar_url", ENROLLMENT: "e_profile_image_url", PROFILE: "p_profile_image_url"},
        {USERS: "avatar_url", ENROLLMENT: "profile_image_url", PROFILE: "profile_image_url"},
        ENROLLMENT,
        "the enrollment's image, else the user's, else the profile's",
    ),
    Field(
        "bio",
        "bio",
        {ENROLLMENT: "e_bio", PROFILE: "p_bio"},
        {ENROLLMENT: "bio", PROFILE: "bio"},
        ENROLLMENT,
        "the enrollment's when not empty, else the profile's",
    ),
    Field(
        "experience",
        "experience",
        {ENROLLMENT: "e_experience_years", PROFILE: "p_experience_years"},
        {ENROLLMENT: "experience_years", PROFILE: "experience_years"},
        ENROLLMENT,
        "the enrollment's when above 0, else the profile's when above 0",
    ),
    Field(
        "status",
        "verification",
        {ENROLLMENT: "e_status", PROFILE: "p_verification_status"},
        {ENROLLMENT: "status", PROFILE: "verification_status"},
        ENROLLMENT,
        "the enrollment's status",
    ),
    Field(
        "verified",
        "verification",
        {USERS: "u_is_verified", PROFILE: "p_is_verified"},
        {USERS: "is_verified", PROFILE: "is_verified"},
        None,
        "the enrollment's status: approved is true, rejected false",
    ),
    Field(
        "active",
        "active",
        {USERS: "u_is_active", ENROLLMENT: "e_is_active"},
        {USERS: "is_active", ENROLLMENT: "is_active"},
        ENROLLMENT,
        "the enrollment's is_active",
    ),
    Field(
        "specializations",
        "specializations",
        {ENROLLMENT: "e_list", PROFILE: "p_specializations"},
        {ENROLLMENT: "specializations", PROFILE: "specializations"},
        ENROLLMENT,
        "the enrollment's list (legacy text normalised), else the profile's",
    ),
    Field(
        "email",
        None,
        {USERS: "u_email", ENROLLMENT: "e_email"},
        {},
        USERS,
        "the user's; compared trimmed and lowercased",
    ),
    Field(
        "linked user",
        "unlinked_enrollment",
        {ENROLLMENT: "e_user_id"},
        {ENROLLMENT: "user_id"},
        None,
        "the therapist's user id",
    ),
)


@dataclass
class Cell:
    value: object
    present: bool  # False where the therapist has no such row
    disagrees: bool = False
    becomes: object = None
    is_source: bool = False


@dataclass
class MatrixRow:
    field: Field
    passing: bool | None  # None where the check does not apply
    cells: list = dataclass_field(default_factory=list)  # a Cell per table of TABLES, None where it has no such field


# Checks that span several rows of the matrix (verification: the statuses, and the
# user's and the profile's flags): a failing one marks only the rows that disagree.
SPANNING = {f.check for f in FIELDS if f.check and sum(g.check == f.check for g in FIELDS) > 1}


def _passing(state, check):
    if check is None:
        return None
    if check == "unlinked_enrollment":
        return None if state.e_id is None else not state.unlinked_enrollment
    return state.row[f"{check}_ok"]


def matrix(state, preview=()):
    """
    Return one row per field with the three tables' cells side by side.

    ``preview`` is the list of {table, column, before, after} of jobs.resync_preview:
    the cells it would write disagree; the cells already holding the value it would
    write are where that value comes from. A row is failing where its check fails,
    but a row of a check spanning several rows only where a cell of its own
    disagrees. ``preview=None`` means no preview applies (several users share the
    email): nothing is marked, and such rows follow their check.
    """
    writes = {(change["table"], change["column"]): change["after"] for change in preview or ()}
    present = {USERS: True, ENROLLMENT: state.e_id is not None, PROFILE: state.p_id is not None}
    rows = []
    for f in FIELDS:
        row = MatrixRow(f, _passing(state, f.check))
        targets = [writes[(table, column)] for table, column in f.columns.items() if (table, column) in writes]
        for table in TABLES:
            if table not in f.cells:
                row.cells.append(None)
                continue
            cell = Cell(state.row[f.cells[table]], present[table])
            change = (table, f.columns.get(table))
            if change in writes:
                cell.disagrees, cell.becomes = True, writes[change]
            elif cell.present and (cell.value in targets if targets else table == f.primary):
                cell.is_source = True
            row.cells.append(cell)
        if row.passing is False and f.check in SPANNING and preview is not None:
            row.passing = any(cell and cell.disagrees for cell in row.cells) is False
        rows.append(row)
    return rows


@dataclass(frozen=True)
class Event:
    at: object
    kind: str  # "intervention", "job" or "audit"
    item: object


def timeline(norm_email, therapist_ids=(), limit=50):
    """
    Return the therapist's interventions, jobs and audit entries, newest first.

    Interventions are found by entity_id: opsdash logs the normalised email, the
    platform may have logged an email as typed or the user id (docs/rules.md §1).
    """
    ids = [str(i) for i in therapist_ids]
    interventions = Intervention.objects.filter(Q(entity_id__iexact=norm_email) | Q(entity_id__in=ids)).order_by(
        "-timestamp"
    )[:limit]
    if not intervention_log_exists():  # docs/rules.md §1: the platform may have none yet
        interventions = []
    jobs = JobRun.objects.filter(target=norm_email).select_related("requested_by").order_by("-created_at")[:limit]
    audit = AuditEntry.objects.filter(target=norm_email).order_by("-at")[:limit]
    events = chain(
        (Event(i.timestamp, "intervention", i) for i in interventions),
        (Event(j.created_at, "job", j) for j in jobs),
        (Event(a.at, "audit", a) for a in audit),
    )
    return sorted(events, key=lambda e: e.at, reverse=True)[:limit]
