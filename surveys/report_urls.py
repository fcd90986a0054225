"""The reports: Project Overview, Response List and its CSV export (surveys/report_views.py)."""

from django.urls import path

from . import report_views

urlpatterns: list = [
    path("e/<slug:env>/overview/", report_views.overview, name="overview"),
    path("e/<slug:env>/responses/", report_views.responses, name="responses"),
    path("e/<slug:env>/responses/count/", report_views.responses_count, name="responses_count"),
    path("e/<slug:env>/surveys/<uuid:uuid>/results/", report_views.results, name="results"),
    path(
        "e/<slug:env>/responses/export.csv", report_views.responses_export, name="responses_export"
    ),
]
