from django.urls import path

from . import views

app_name = "alerts"

urlpatterns = [
    path("e/<slug:env>/settings/alerts/", views.subscription_list, name="list"),
    path("e/<slug:env>/settings/alerts/new/", views.subscription_new, name="new"),
    path("e/<slug:env>/settings/alerts/<int:pk>/", views.subscription_edit, name="edit"),
    path(
        "e/<slug:env>/settings/alerts/<int:pk>/delete/",
        views.subscription_delete,
        name="delete",
    ),
]
