"""Build therapists and their rows in the platform tables, one situation at a time."""

import itertools
from datetime import timedelta

from django.utils import timezone

from consistency.models import PlatformUser, TherapistEnrollment, TherapistProfile

_counter = itertools.count(1)


def make_user(email=None, **fields):
    n = next(_counter)
    values = {
        "email": email or f"therapist{n}@example.com",
        "full_name": f"Therapist {n}",
        "user_type": "therapist",
        "is_verified": True,
        "is_active": True,
        "avatar_url": None,
    }
    values.update(fields)
    return PlatformUser.objects.create(**values)


def make_enrollment(user=None, email=None, linked=True, age=timedelta(0), **fields):
    values = {
        "user": user if linked else None,
        "email": email or (user.email if user else f"enrollment{next(_counter)}@example.com"),
        "full_name": user.full_name if user else "Someone",
        "bio": "Helps with anxiety.",
        "experience_years": 5,
        "specializations": ["Anxiety", "CBT"],
        "specialization": None,
        "profile_image_url": "/placeholder.svg",
        "status": "approved",
        "is_active": True,
    }
    values.update(fields)
    enrollment = TherapistEnrollment.objects.create(**values)
    if age:
        # auto_now overrides updated_at on save: set it with an update.
        TherapistEnrollment.objects.filter(pk=enrollment.pk).update(updated_at=timezone.now() - age)
        enrollment.refresh_from_db()
    return enrollment


def make_profile(user, **fields):
    values = {
        "user": user,
        "licensed_qualification": "MSc Psychology",
        "bio": "Helps with anxiety.",
        "experience_years": 5,
        "specializations": ["Anxiety", "CBT"],
        "profile_image_url": None,
        "verification_status": "approved",
        "is_verified": True,
    }
    values.update(fields)
    return TherapistProfile.objects.create(**values)


def make_therapist(email=None, user=None, enrollment=None, profile=None):
    """Create a consistent therapist; each dict overrides fields of its row (None skips the row)."""
    user_row = make_user(email, **(user or {}))
    enrollment_row = None if enrollment is False else make_enrollment(user_row, **(enrollment or {}))
    profile_row = None if profile is False else make_profile(user_row, **(profile or {}))
    return user_row, enrollment_row, profile_row
