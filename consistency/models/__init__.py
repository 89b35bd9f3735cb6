from .platform import PlatformUser, TherapistEnrollment, TherapistProfile

__all__ = ["PlatformUser", "TherapistEnrollment", "TherapistProfile"]
