from django.urls import path

from . import views

app_name = "imports"

urlpatterns = [
    path("e/<slug:env>/settings/imports/", views.import_list, name="list"),
    path("e/<slug:env>/settings/imports/<uuid:uuid>/", views.import_detail, name="detail"),
    path(
        "e/<slug:env>/settings/imports/<uuid:uuid>/rejected.csv",
        views.import_report,
        name="report",
    ),
]
