"""REST: check the API key (`GET /api/v1/`), mounted in config/api.py."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Router, Schema

from api.auth import key_environment
from api.errors import ERRORS

router = Router()


class EnvironmentOut(Schema):
    uuid: UUID
    name: str


# Operation ids are part of the published document (client generators name methods after them):
# the REST endpoints keep the ids they had when they lived in config/api.py.
@router.get(
    "/",
    response={200: EnvironmentOut, **ERRORS},
    summary="Check the API key",
    operation_id="config_api_root",
)
def root(request: HttpRequest) -> dict[str, Any]:
    """The environment the key belongs to."""
    environment = key_environment(request)
    return {"uuid": environment.uuid, "name": environment.name}
