from .audit import AuditAction, AuditEntry
from .jobs import (
    ACTIVE_STATES,
    FINISHED_CHUNK_STATES,
    FINISHED_STATES,
    ChunkState,
    JobChunk,
    JobEvent,
    JobKind,
    JobRun,
    JobState,
)
from .platform import PLACEHOLDER_IMAGE, EnrollmentStatus, PlatformUser, TherapistEnrollment, TherapistProfile
from .results import TherapistResult
from .snapshots import MetricSnapshot, SnapshotSource

__all__ = [
    "ACTIVE_STATES",
    "ChunkState",
    "FINISHED_CHUNK_STATES",
    "JobChunk",
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
