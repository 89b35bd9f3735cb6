from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("interventions/", include("interventions.urls")),
    path("", include("monitoring.urls")),
    path("api/", include("api.urls", namespace="api")),
    path("", include("consistency.urls")),
]
