"""
The JSON API: the same reads as the pages, and two actions for operators.

Every view needs an authenticated user (a token from the admin, or a session); reads
are open to every account as the pages are, and the actions need
consistency.run_jobs and call the functions the pages call (consistency.jobs).
"""

from django.utils.dateparse import parse_datetime
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from consistency import jobs
from consistency.engine.checks import normalise_email, states_for_email
from consistency.models import JobRun, MetricSnapshot
from consistency.permissions import RUN_JOBS
from interventions.filters import InterventionFilter
from interventions.queue import unresolved

from .serializers import (
    EmailSerializer,
    InterventionSerializer,
    JobReportSerializer,
    JobSerializer,
    SnapshotSerializer,
    TherapistStateSerializer,
)


class CanRunJobs(permissions.BasePermission):
    """The operators' permission of the pages' job buttons."""

    message = "Starting jobs needs the permission consistency.run_jobs (the Operators group)."

    def has_permission(self, request, view):
        return request.user.has_perm(RUN_JOBS)


class LatestMetrics(APIView):
    """The metrics of the latest snapshot."""

    @extend_schema(responses=SnapshotSerializer)
    def get(self, request):
        snapshot = MetricSnapshot.objects.order_by("-taken_at").first()
        if snapshot is None:
            raise NotFound("No snapshot has been taken yet.")
        return Response(SnapshotSerializer(snapshot).data)


def _moment(request, name):
    value = request.query_params.get(name)
    if not value:
        return None
    moment = parse_datetime(value)
    if moment is None:
        raise ValidationError({name: f"{value!r} is not an ISO 8601 date and time, e.g. 2026-01-31T08:00:00Z."})
    return moment


@extend_schema(
    parameters=[
        OpenApiParameter("since", OpenApiTypes.DATETIME, description="Snapshots taken at or after this time."),
        OpenApiParameter("until", OpenApiTypes.DATETIME, description="Snapshots taken at or before this time."),
    ]
)
class SnapshotList(generics.ListAPIView):
    """The snapshot history, newest first, within an optional time range."""

    serializer_class = SnapshotSerializer

    def get_queryset(self):
        snapshots = MetricSnapshot.objects.order_by("-taken_at")
        since, until = _moment(self.request, "since"), _moment(self.request, "until")
        if since:
            snapshots = snapshots.filter(taken_at__gte=since)
        if until:
            snapshots = snapshots.filter(taken_at__lte=until)
        return snapshots


class TherapistState(APIView):
    """The state of the therapists with one email (normalised): several means duplicate users."""

    @extend_schema(
        parameters=[OpenApiParameter("email", OpenApiTypes.EMAIL, required=True)],
        responses=TherapistStateSerializer(many=True),
    )
    def get(self, request):
        email = normalise_email(request.query_params.get("email"))
        if not email:
            raise ValidationError({"email": "Give the therapist's email: ?email=..."})
        states = states_for_email(email)
        if not states:
            raise NotFound(f"No therapist has the email {email}.")
        return Response(TherapistStateSerializer(states, many=True).data)


class InterventionList(generics.ListAPIView):
    """The unresolved interventions, oldest first, with the queue page's filters."""

    serializer_class = InterventionSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = InterventionFilter

    def get_queryset(self):
        return unresolved()


class JobList(generics.ListAPIView):
    """Every job, newest first."""

    serializer_class = JobSerializer
    queryset = JobRun.objects.select_related("requested_by").order_by("-created_at")


class JobDetail(generics.RetrieveAPIView):
    """One job's report: states, counts, columns changed, metrics before and after."""

    serializer_class = JobReportSerializer
    queryset = JobRun.objects.select_related("requested_by").prefetch_related("events")


def _started(request, start):
    """Answer 202 with the job ``start()`` queued, or the reason it could not."""
    try:
        job = start()
    except jobs.QueueUnavailable as exc:
        return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    except jobs.JobAlreadyRunning as exc:
        return Response({"detail": str(exc), "job": exc.job.pk}, status=status.HTTP_409_CONFLICT)
    except jobs.JobError as exc:
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    return Response(JobSerializer(job, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)


class StartResync(APIView):
    """Queue a resync of the therapist with this email, as the therapist page's button does."""

    permission_classes = [permissions.IsAuthenticated, CanRunJobs]

    @extend_schema(request=EmailSerializer, responses={202: JobSerializer})
    def post(self, request):
        form = EmailSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        return _started(request, lambda: jobs.start_resync(request.user, form.validated_data["email"]))


class StartRepairAllDryRun(APIView):
    """Queue a dry run of repair-all: what it would change, writing nothing."""

    permission_classes = [permissions.IsAuthenticated, CanRunJobs]

    @extend_schema(request=None, responses={202: JobSerializer})
    def post(self, request):
        return _started(request, lambda: jobs.start_repair_all(request.user, dry_run=True))
