"""
The latest state of every therapist that fails a check, for the drill-down pages.

Recomputing therapist_state.sql for a page takes seconds at a million therapists, so
consistency.reporting.results copies the failing rows here (opsdash's own database) whenever a
snapshot is taken, and refreshes one therapist after its resync. A page then reads a
few rows through a partial index.
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models

from .. import catalogue
from ..catalogue import CHECKS, LINK_PROBLEMS, THERAPIST_PROBLEMS


def failing_condition(problem):
    """Return the condition selecting the therapists that fail a check or have a link problem, by name."""
    return models.Q(**THERAPIST_PROBLEMS[problem].failing_lookup)


def _failing_indexes(problem):
    # The drill-down lists one problem's therapists a page at a time, sorted by email,
    # status or how long they have failed. Partial indexes per problem keep the page
    # and its count to that problem's rows (index-only counts once vacuumed, and no
    # sort of ~100,000 wide rows per request at a million therapists).
    condition = failing_condition(problem)
    return [
        models.Index(fields=["norm_email"], condition=condition, name=f"failing_{problem[:18]}_idx"),
        models.Index(fields=["e_status", "norm_email"], condition=condition, name=f"f_{problem[:16]}_status_idx"),
        models.Index(fields=["failing_since", "norm_email"], condition=condition, name=f"f_{problem[:17]}_since_idx"),
    ]


class TherapistResult(models.Model):
    """One inconsistent therapist: its three rows side by side and what fails (therapist_state.sql)."""

    therapist_id = models.UUIDField(primary_key=True)
    u_email = models.CharField("email", max_length=255)
    norm_email = models.CharField("normalised email", max_length=255)
    u_full_name = models.CharField(max_length=255, null=True)
    u_is_verified = models.BooleanField(null=True)
    u_is_active = models.BooleanField(null=True)
    u_avatar_url = models.TextField(null=True)
    enrollment_count = models.IntegerField(default=0)
    e_id = models.UUIDField(null=True)
    e_user_id = models.UUIDField(null=True)
    e_email = models.CharField(max_length=255, null=True)
    e_full_name = models.CharField(max_length=255, null=True)
    e_bio = models.TextField(null=True)
    e_experience_years = models.IntegerField(null=True)
    e_specializations = ArrayField(models.TextField(), null=True)
    e_specialization = models.TextField(null=True)
    e_profile_image_url = models.TextField(null=True)
    e_status = models.CharField(max_length=50, null=True)
    e_is_active = models.BooleanField(null=True)
    p_id = models.UUIDField(null=True)
    p_bio = models.TextField(null=True)
    p_experience_years = models.IntegerField(null=True)
    p_specializations = ArrayField(models.TextField(), null=True)
    p_profile_image_url = models.TextField(null=True)
    p_verification_status = models.CharField(max_length=50, null=True)
    p_is_verified = models.BooleanField(null=True)
    e_list = ArrayField(models.TextField(), null=True)
    # When opsdash first saw this therapist inconsistent; kept while it stays so.
    failing_since = models.DateTimeField()

    class Meta:
        # No trigram index for "email contains": pg_trgm is not in every PostgreSQL
        # (the embedded one of the run command lacks it); a filter matching few rows
        # walks the problem's email index instead (about 250 ms at a million therapists).
        indexes = [index for problem in THERAPIST_PROBLEMS for index in _failing_indexes(problem)]

    def __str__(self):
        return self.norm_email

    @property
    def failing_checks(self):
        return catalogue.failing(self, CHECKS)

    @property
    def link_problems(self):
        return catalogue.failing(self, LINK_PROBLEMS)


# One flag per problem of the catalogue, named as therapist_state.sql names it: a check's
# `<name>_ok` is NULL where it does not apply (no enrollment or no profile), as in the
# SQL; a link problem's flag is true or false. A new check in the catalogue becomes a
# column here, and `makemigrations` writes its migration.
for _problem in THERAPIST_PROBLEMS.values():
    _flag = (
        models.BooleanField(null=True) if isinstance(_problem, catalogue.Check) else models.BooleanField(default=False)
    )
    _flag.contribute_to_class(TherapistResult, _problem.flag)
del _problem, _flag
