from django.contrib import admin
from django.urls import include, path, re_path

from api.segment import KINDS as SEGMENT_KINDS
from api.segment import ingest as segment_ingest

from .api import api

# A request refused before any view (an invalid Host header): JSON on the API's paths.
handler400 = "api.errors.bad_request"

urlpatterns = [
    # First: ingestion is the hot path, and URL resolution tries patterns in order.
    path("api/v1/", api.urls),
    # Segment-compatible ingestion: /segment/v1/batch, /segment/batch/, /segment/v1/t ...
    # (libraries differ on the form).
    re_path(
        r"^segment/(?:v1/)?(?P<kind>"
        + "|".join(sorted(SEGMENT_KINDS, key=len, reverse=True))
        + r")/?$",
        segment_ingest,
        name="segment_ingest",
    ),
    path("admin/", admin.site.urls),
    path("", include("environments.urls")),
    path("", include("profiles.urls")),
    path("", include("traits.urls")),
    path("", include("events.urls")),
    path("", include("surveys.urls")),
    path("", include("segments.urls")),
    path("", include("delivery.urls")),
    path("", include("webhooks.urls")),
    path("", include("alerts.urls")),
    path("", include("retention.urls")),
    path("", include("governance.urls")),
    path("", include("imports.urls")),
]
