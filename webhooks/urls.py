from django.urls import path

from . import views

app_name = "webhooks"

P = "e/<slug:env>/settings/webhooks/"

urlpatterns = [
    path(P, views.endpoint_list, name="list"),
    path(f"{P}new/", views.endpoint_new, name="new"),
    path(f"{P}<uuid:uuid>/", views.endpoint_detail, name="detail"),
    path(f"{P}<uuid:uuid>/edit/", views.endpoint_edit, name="edit"),
    path(f"{P}<uuid:uuid>/enabled/", views.endpoint_toggle, name="toggle"),
    path(f"{P}<uuid:uuid>/rotate/", views.endpoint_rotate, name="rotate"),
    path(f"{P}<uuid:uuid>/delete/", views.endpoint_delete, name="delete"),
    path(f"{P}<uuid:uuid>/test/", views.endpoint_test, name="test"),
    path(f"{P}<uuid:uuid>/replay-failed/", views.replay_failed, name="replay_failed"),
    path(
        f"{P}<uuid:uuid>/deliveries/<int:pk>/replay/",
        views.delivery_replay,
        name="delivery_replay",
    ),
]
