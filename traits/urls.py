from django.urls import path

from . import views

app_name = "traits"

urlpatterns = [
    path("e/<slug:env>/traits/", views.trait_list_view, name="list"),
    path("e/<slug:env>/traits/<int:pk>/edit/", views.trait_edit, name="edit"),
    path("e/<slug:env>/traits/<int:pk>/row/", views.trait_row, name="row"),
    path("e/<slug:env>/traits/<int:pk>/delete/", views.trait_delete_view, name="delete"),
]
