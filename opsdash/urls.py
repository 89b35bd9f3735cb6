from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

# The admin's app list is one click away on its index; without that sidebar its lists,
# the intervention log's seven columns among them, fit a 1440 px window whole.
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("interventions/", include("interventions.urls")),
    path("", include("consistency.urls")),
]
