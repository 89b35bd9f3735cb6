from .audit import AuditAction, AuditEntry
from .email_keys import EmailKey, EmailKeySet
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
from .snapshots import PENDING_ATTEMPT_STATES, AttemptState, MetricSnapshot, SnapshotAttempt, SnapshotSource

__all__ = [
    "ACTIVE_STATES",
    "AttemptState",
    "ChunkState",
    "FINISHED_CHUNK_STATES",
    "JobChunk",
    "AuditAction",
    "AuditEntry",
    "EmailKey",
    "EmailKeySet",
    "EnrollmentStatus",
    "FINISHED_STATES",
    "JobEvent",
    "JobKind",
    "JobRun",
    "JobState",
    "MetricSnapshot",
    "PENDING_ATTEMPT_STATES",
    "PLACEHOLDER_IMAGE",
    "PlatformUser",
    "SnapshotAttempt",
    "SnapshotSource",
    "TherapistEnrollment",
    "TherapistProfile",
    "TherapistResult",
]
