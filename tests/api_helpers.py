"""Shared helpers for the API tests: a key per environment and an authenticated client."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

from django.test import Client

from environments.services import api_key_create


def new_key(environment) -> str:
    return api_key_create(environment=environment, name="test")[1]


class ApiClient:
    """A Django test client that sends the key as a Bearer token and JSON bodies."""

    def __init__(self, secret: str, scheme: str = "bearer") -> None:
        self.client = Client()
        self.secret = secret
        self.scheme = scheme

    def _headers(self) -> dict[str, Any]:
        if self.scheme == "basic":
            token = base64.b64encode(f"{self.secret}:".encode()).decode()
            return {"HTTP_AUTHORIZATION": f"Basic {token}"}
        return {"HTTP_AUTHORIZATION": f"Bearer {self.secret}"}

    def get(self, path: str, params: dict | None = None, **extra: Any):
        return self.client.get(path, params or {}, **self._headers(), **extra)

    def post(self, path: str, body: Any, **extra: Any):
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        return self.client.post(
            path, data, content_type="application/json", **self._headers(), **extra
        )

    def delete(self, path: str, params: dict | None = None, **extra: Any):

        query = ("?" + urlencode(params)) if params else ""
        return self.client.delete(path + query, **self._headers(), **extra)
