"""The public API: the REST API under /api/v1/ and Segment-compatible ingestion under /segment/.

Kept apart from config/urls.py so the API has one home.
"""

from django.urls import path, re_path

from .api import api
from .segment_api import KINDS, ingest

urlpatterns: list = [
    path("api/v1/", api.urls),
    # /segment/v1/batch, /segment/batch/, /segment/v1/t ... (libraries differ on the form)
    re_path(
        r"^segment/(?:v1/)?(?P<kind>" + "|".join(sorted(KINDS, key=len, reverse=True)) + r")/?$",
        ingest,
        name="segment_ingest",
    ),
]
