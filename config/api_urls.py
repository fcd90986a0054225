"""The public API: the REST API under /api/v1/ and Segment-compatible ingestion under /segment/.

The ingestion issue fills these in; kept apart from config/urls.py so the API has one home.
"""

urlpatterns: list = []
