from django.urls import path

from . import views

app_name = "events"

urlpatterns = [
    path("e/<slug:env>/events/", views.event_list, name="list"),
    path("e/<slug:env>/events/<int:pk>/edit/", views.event_edit, name="edit"),
    path("e/<slug:env>/events/<int:pk>/row/", views.event_row, name="row"),
    path("e/<slug:env>/events/<int:pk>/delete/", views.event_delete, name="delete"),
]
