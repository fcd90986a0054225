from django.urls import path

from . import views

app_name = "profiles"

urlpatterns = [
    path("e/<slug:env>/users/", views.user_list, name="list"),
    path("e/<slug:env>/users/count/", views.user_count, name="count"),
    path("e/<slug:env>/users/<uuid:uuid>/", views.user_detail, name="detail"),
    path("e/<slug:env>/users/<uuid:uuid>/events/", views.user_events, name="events"),
    path("e/<slug:env>/settings/usage/", views.usage, name="usage"),
    path("e/<slug:env>/settings/usage/export.csv", views.usage_csv, name="usage_csv"),
]
