from django.urls import path

from .views import drilldown, jobs, overview, safety_net, therapist, trends

app_name = "consistency"

urlpatterns = [
    path("", overview.overview_page, name="overview"),
    path("overview/live/", overview.overview_live, name="overview_live"),
    path("overview/refresh/", overview.refresh_snapshot, name="refresh_snapshot"),
    path("trends/", trends.trends_page, name="trends"),
    path("checks/<str:problem>/", drilldown.drilldown, name="drilldown"),
    path("checks/<str:problem>/rows/<uuid:therapist_id>/", drilldown.drilldown_row, name="drilldown_row"),
    path("therapists/", therapist.therapist_page, name="therapist"),
    path("therapists/live/", therapist.therapist_live, name="therapist_live"),
    path("therapists/resync/", therapist.resync, name="resync"),
    path("therapists/create-profile/", therapist.create_profile, name="create_profile"),
    path("jobs/", jobs.jobs_page, name="jobs"),
    path("jobs/repair-all/preview/", jobs.repair_all_preview, name="repair_all_preview"),
    path("jobs/repair-all/", jobs.repair_all, name="repair_all"),
    path("jobs/<int:pk>/", jobs.job_page, name="job"),
    path("jobs/<int:pk>/cancel/", jobs.cancel_job, name="cancel_job"),
    path("jobs/<int:pk>/end/", jobs.end_stale_job, name="end_stale_job"),
    path("jobs/<int:pk>/live/", jobs.job_live, name="job_live"),
    path("safety-net/", safety_net.safety_net_page, name="safety_net"),
    path("safety-net/<str:operation>/", safety_net.change_safety_net, name="change_safety_net"),
]
