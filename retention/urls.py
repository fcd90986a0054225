from django.urls import path

from . import views

app_name = "retention"

urlpatterns = [
    path("e/<slug:env>/settings/data/", views.data_settings, name="settings"),
]
