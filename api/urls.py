from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from . import views

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("metrics/", views.LatestMetrics.as_view(), name="metrics"),
    path("snapshots/", views.SnapshotList.as_view(), name="snapshots"),
    path("therapists/", views.TherapistState.as_view(), name="therapist"),
    path("interventions/", views.InterventionList.as_view(), name="interventions"),
    path("jobs/", views.JobList.as_view(), name="jobs"),
    path("jobs/<int:pk>/", views.JobDetail.as_view(), name="job"),
    path("jobs/resync/", views.StartResync.as_view(), name="start_resync"),
    path("jobs/repair-all-dry-run/", views.StartRepairAllDryRun.as_view(), name="start_repair_all_dry_run"),
]
