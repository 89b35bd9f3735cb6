from django.urls import path

from . import views

app_name = "interventions"

urlpatterns = [
    path("", views.queue_page, name="queue"),
    path("items/", views.items, name="items"),
    path("act/", views.group_action, name="resolve"),
    path("bulk/", views.bulk_action, name="bulk"),
]
