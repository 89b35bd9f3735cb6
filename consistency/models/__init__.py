from .audit import AuditAction, AuditEntry
from .jobs import FINISHED_STATES, JobEvent, JobKind, JobRun, JobState
from .platform import PLACEHOLDER_IMAGE, EnrollmentStatus, PlatformUser, TherapistEnrollment, TherapistProfile
from .results import TherapistResult
from .snapshots import MetricSnapshot, SnapshotSource

__all__ = [
    "AuditAction",
    "AuditEntry",
    "EnrollmentStatus",
    "FINISHED_STATES",
    "JobEvent",
    "JobKind",
    "JobRun",
    "JobState",
    "MetricSnapshot",
    "PLACEHOLDER_IMAGE",
    "PlatformUser",
    "SnapshotSource",
    "TherapistEnrollment",
    "TherapistProfile",
    "TherapistResult",
]
