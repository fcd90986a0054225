from django.urls import path

from . import views

app_name = "segments"

urlpatterns = [
    path("e/<slug:env>/segments/", views.segment_list, name="list"),
    path("e/<slug:env>/segments/new/", views.segment_new, name="new"),
    path("e/<slug:env>/segments/preview/", views.segment_preview, name="preview"),
    path(
        "e/<slug:env>/segments/profile/<uuid:profile_uuid>/",
        views.profile_segments,
        name="profile_segments",
    ),
    path("e/<slug:env>/segments/<uuid:uuid>/", views.segment_detail, name="detail"),
    path("e/<slug:env>/segments/<uuid:uuid>/edit/", views.segment_edit, name="edit"),
    path("e/<slug:env>/segments/<uuid:uuid>/status/", views.segment_status, name="status"),
    path("e/<slug:env>/segments/<uuid:uuid>/recompute/", views.segment_recompute, name="recompute"),
    path("e/<slug:env>/segments/<uuid:uuid>/delete/", views.segment_delete, name="delete"),
    path("e/<slug:env>/segments/<uuid:uuid>/import/", views.segment_import, name="import"),
    path(
        "e/<slug:env>/segments/<uuid:uuid>/members/",
        views.segment_members_change,
        name="members",
    ),
]
