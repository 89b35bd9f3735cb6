"""
The catalogue of what opsdash checks: every field check and link problem, once.

docs/rules.md §3 states each rule and consistency/sql/therapist_state.sql decides it;
everything else reads this module: the metrics and the report, the drill-down's
columns and headings, the therapist page, the CSV export, the overview's units and the
repair's intervention log. Adding a check is an entry here, its `<name>_ok` column in
the SQL, and a migration adding that flag to the drill-down table (TherapistResult).
"""

from collections.abc import Mapping
from dataclasses import dataclass

# What a count counts (docs/rules.md §7): most count therapists.
THERAPISTS = "therapists"
USERS = "users"
ENROLLMENTS = "enrollments"


@dataclass(frozen=True)
class Problem:
    """Something a therapist (or a row) can fail, with its metric and its drill-down."""

    name: str  # the metric key and the drill-down's slug, e.g. "bio", "duplicate_user"
    rule: str  # what failing it means, in words, for the drill-down's heading
    columns: tuple[str, ...] = ()  # the therapist_state.sql values it compares, the source of truth first
    unit: str = THERAPISTS

    @property
    def label(self) -> str:
        """The name in words: duplicate_user -> duplicate user."""
        return self.name.replace("_", " ")

    @property
    def operation(self) -> str:
        """The name the intervention log uses: duplicate_user -> duplicate-user."""
        return self.name.replace("_", "-")

    @property
    def drilldown(self) -> bool:
        """Whether it is a property of one therapist, listed on a drill-down page."""
        return self.unit != ENROLLMENTS

    def fails(self, row) -> bool:
        """Tell whether a therapist's state (a mapping or an object with the flag) fails it."""
        value = row[self.flag] if isinstance(row, Mapping) else getattr(row, self.flag)
        return value is self.failing_value

    @property
    def failing_lookup(self) -> dict:
        """The ORM lookup of the therapists that fail it, on TherapistResult."""
        return {self.flag: self.failing_value}

    def failing_sql(self, alias) -> str:
        """The SQL condition on a therapist_state.sql row, as `alias`, of the therapists that fail it."""
        return f"{alias}.{self.flag} = {str(self.failing_value).lower()}"


@dataclass(frozen=True)
class Check(Problem):
    """A field check: the field's values agree across the three tables (NULL: not applicable)."""

    # NULL where the check does not apply (no enrollment or no profile to compare).
    failing_value = False

    @property
    def flag(self) -> str:
        return f"{self.name}_ok"


@dataclass(frozen=True)
class LinkProblem(Problem):
    """A problem with how the rows link; only `repaired` ones are fixed without a human."""

    repaired: bool = False
    failing_value = True

    @property
    def flag(self) -> str:
        return self.name


CHECKS = (
    Check(
        "avatar",
        "The user's avatar, the enrollment's and the profile's image differ (the placeholder counts as no image).",
        ("e_profile_image_url", "u_avatar_url", "p_profile_image_url"),
    ),
    Check(
        "bio",
        "The enrollment's and the profile's bio differ (NULL and empty text are different values).",
        ("e_bio", "p_bio"),
    ),
    Check(
        "experience",
        "The enrollment's and the profile's experience differ, "
        "and the enrollment's is not an unknown 0 with a known profile value.",
        ("e_experience_years", "p_experience_years"),
    ),
    Check(
        "verification",
        "The profile's status or is_verified, or the user's is_verified, does not follow the enrollment's status.",
        ("p_verification_status", "p_is_verified", "u_is_verified"),
    ),
    Check("active", "The user's is_active differs from the enrollment's.", ("e_is_active", "u_is_active")),
    Check("name", "The user's full name differs from the enrollment's.", ("e_full_name", "u_full_name")),
    Check(
        "specializations",
        "The enrollment's list (or its normalised legacy text) and the profile's differ as case-insensitive sets.",
        ("e_list", "p_specializations"),
    ),
)

LINK_PROBLEMS = (
    LinkProblem(
        "unlinked_enrollment",
        "The canonical enrollment has no user_id: the repair links it.",
        ("e_email", "e_user_id"),
        repaired=True,
    ),
    LinkProblem(
        "missing_enrollment",
        "The therapist has no enrollment: nothing to repair from.",
        ("u_full_name",),
    ),
    LinkProblem(
        "missing_profile",
        "The therapist has no profile, so booking fails: an operator may create it from the enrollment.",
        ("e_full_name",),
    ),
    LinkProblem(
        "duplicate_enrollment",
        "The therapist has more than one enrollment: only the canonical one is ever written.",
        ("enrollment_count", "e_id"),
    ),
    LinkProblem(
        "duplicate_user",
        "Another user has the same email once trimmed and lowercased.",
        ("norm_email",),
        unit=USERS,
    ),
    LinkProblem(
        "orphan_enrollment",
        "An approved enrollment with no user_id whose email matches no user.",
        unit=ENROLLMENTS,
    ),
)

# The problems of one therapist, each with a drill-down page, by name.
THERAPIST_PROBLEMS = {p.name: p for p in CHECKS + LINK_PROBLEMS if p.drilldown}
PROBLEMS = {p.name: p for p in CHECKS + LINK_PROBLEMS}

CHECK_NAMES = tuple(c.name for c in CHECKS)
LINK_PROBLEM_NAMES = tuple(p.name for p in LINK_PROBLEMS)
THERAPIST_LINK_PROBLEM_NAMES = tuple(p.name for p in LINK_PROBLEMS if p.drilldown)
AUTO_REPAIRED_LINK_PROBLEM_NAMES = tuple(p.name for p in LINK_PROBLEMS if p.repaired)

# The therapist_state.sql columns that say what a therapist fails.
FLAGS = tuple(p.flag for p in THERAPIST_PROBLEMS.values())


def failing(row, problems=CHECKS + LINK_PROBLEMS, but=None) -> list[str]:
    """Return the names of the therapist's problems (of `problems`, but `but`) its state fails, in order."""
    return [p.name for p in problems if p.drilldown and p.name != but and p.fails(row)]
