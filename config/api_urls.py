"""The public API: the REST API under /api/v1/ and Segment-compatible ingestion under /segment/.

Kept apart from config/urls.py so the API has one home.
"""

from django.urls import path

from .api import api

urlpatterns: list = [
    path("api/v1/", api.urls),
]
