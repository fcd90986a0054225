from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    # First: ingestion is the hot path, and URL resolution tries patterns in order.
    path("", include("config.api_urls")),
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
