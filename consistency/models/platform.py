"""
Windows onto the marketplace's therapist tables (docs/rules.md §1).

The platform owns these tables: opsdash maps only the columns it needs, never
migrates them, and puts no save-time logic here. PlatformRouter sends every model
with ``platform_table = True`` to the "platform" database.
"""

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models

PLACEHOLDER_IMAGE = "/placeholder.svg"


class EnrollmentStatus(models.TextChoices):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class PlatformUser(models.Model):
    """An account of the marketplace (table ``users``); therapists have user_type 'therapist'."""

    platform_table = True

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    email = models.CharField(max_length=255, unique=True)
    full_name = models.CharField(max_length=255, null=True, blank=True)
    user_type = models.CharField(max_length=50, default="individual")
    is_verified = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    avatar_url = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        managed = False
        db_table = "users"
        verbose_name = "platform user"

    def __str__(self):
        return self.email


class TherapistEnrollment(models.Model):
    """A therapist's application, the platform's source of truth (table ``therapist_enrollments``)."""

    platform_table = True

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    user = models.ForeignKey(
        PlatformUser,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="enrollments",
    )
    email = models.CharField(max_length=255)
    full_name = models.CharField(max_length=255)
    bio = models.TextField(null=True, blank=True)
    experience_years = models.IntegerField(null=True, blank=True, default=0)
    specializations = ArrayField(models.TextField(), null=True, blank=True)
    specialization = models.TextField(null=True, blank=True)
    profile_image_url = models.TextField(null=True, blank=True, default=PLACEHOLDER_IMAGE)
    status = models.CharField(max_length=50, choices=EnrollmentStatus.choices, default=EnrollmentStatus.PENDING)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        managed = False
        db_table = "therapist_enrollments"

    def __str__(self):
        return f"{self.full_name} <{self.email}>"


class TherapistProfile(models.Model):
    """The public profile that booking reads (table ``therapist_profiles``)."""

    platform_table = True

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    user = models.OneToOneField(
        PlatformUser,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="profile",
    )
    licensed_qualification = models.CharField(max_length=50)
    bio = models.TextField(null=True, blank=True)
    experience_years = models.IntegerField(null=True, blank=True, default=0)
    specializations = ArrayField(models.TextField(), null=True, blank=True)
    profile_image_url = models.TextField(null=True, blank=True)
    # Legacy rows say "verified", which means "approved".
    verification_status = models.CharField(max_length=50, default=EnrollmentStatus.PENDING)
    is_verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        managed = False
        db_table = "therapist_profiles"

    def __str__(self):
        return f"profile of {self.user_id}"
