"""The REST API (/api/v1/): one NinjaAPI, each app's router mounted under it.

Key authentication (api/auth.py), body decoding (api/body.py) and the JSON error bodies
(api/errors.py) are shared by every router; the endpoints are in each app's `api.py`.
"""

from __future__ import annotations

from ninja import NinjaAPI

from api.auth import ApiKeyBasic, ApiKeyBearer, ApiKeyParam
from api.body import HarkParser
from api.errors import add_error_handlers
from delivery.api import rest_router as delivery_rest_router
from delivery.api import router as client_router
from environments.api import router as environments_router
from events.api import router as events_router
from governance.api import router as governance_router
from profiles.api import router as profiles_router
from segments.api import router as segments_router
from surveys.api import router as surveys_router
from webhooks.api import router as webhooks_router
from webhooks.openapi import install as install_webhooks_openapi

api = NinjaAPI(
    title="Hark API",
    version="1",
    description=(
        "Identify users, track events, read contacts and responses, sync segments. "
        "Authenticate with a secret API key: `Authorization: Bearer KEY`, HTTP Basic with the "
        "key as user name and an empty password, or an `api_key` query parameter."
    ),
    urls_namespace="api",
    auth=[ApiKeyBearer(), ApiKeyBasic(), ApiKeyParam()],
    parser=HarkParser(),
)
add_error_handlers(api)

# The key-authenticated endpoints: identify, track, contacts, responses, forms, segments.
api.add_router("", environments_router)
api.add_router("", profiles_router)
api.add_router("", events_router)
api.add_router("", surveys_router)
api.add_router("", segments_router)
# The client API (public key, CORS), documented in delivery/CONTRACT.md, and a form's
# eligibility explained.
api.add_router("/client/", client_router)
api.add_router("/forms/", delivery_rest_router)
# Webhook endpoints and their deliveries; the document's `webhooks` section describes each
# event's payload.
api.add_router("/webhooks/", webhooks_router)
install_webhooks_openapi(api)
api.add_router("/contact/", governance_router)
