"""
opsdash's own lookup of the platform rows a normalised email cannot be found by without
an expression index (consistency.engine.email_keys).
"""

from django.db import models


class EmailKey(models.Model):
    """A platform row found by normalised email only: a user spelled otherwise, or an unlinked enrollment."""

    USER = "user"
    UNLINKED_ENROLLMENT = "unlinked_enrollment"

    norm_email = models.TextField(db_index=True)
    kind = models.CharField(max_length=20, choices=[(USER, "user"), (UNLINKED_ENROLLMENT, "unlinked enrollment")])
    row_id = models.UUIDField()

    class Meta:
        verbose_name = "email key"

    def __str__(self):
        return f"{self.kind} {self.row_id} <{self.norm_email}>"


class EmailKeySet(models.Model):
    """When the lookup was last refreshed: at most one row."""

    refreshed_at = models.DateTimeField()
    rows = models.PositiveIntegerField()

    def __str__(self):
        return f"{self.rows} email keys as of {self.refreshed_at:%Y-%m-%d %H:%M}"
