"""The audit log: every change a team member makes, with who, when, from where, and what changed.

    from governance import audit
    audit.record(request, "segment.update", segment, before={...}, after={...})

`request_or_actor` is the request (its user, or its API key, and its client address), a user,
or None: then the actor and address of the request being served are used (set by
AuditContextMiddleware), so a service called from a view needs no request to record. Outside a
request (a management command, a task) the entry names no actor ("system").

`target` is a model instance (its type, id and a label are kept) or a (type, id, label) tuple.
`before` and `after` are JSON-ready dicts of the fields that changed (`changes` helps).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import models
from django.http import HttpRequest, HttpResponse

from core.proxy import client_ip

from .models import AuditEntry

# The actions recorded, with how the Audit log page names them (also its filter's choices).
ACTIONS: dict[str, str] = {
    "survey.create": "Survey created",
    "survey.update": "Survey edited",
    "survey.publish": "Survey published",
    "survey.pause": "Survey paused",
    "survey.archive": "Survey archived",
    "survey.status": "Survey status changed",
    "segment.create": "Segment created",
    "segment.update": "Segment edited",
    "segment.delete": "Segment deleted",
    "trait.update": "Trait type changed",
    "trait.delete": "Trait deleted",
    "api_key.create": "API key created",
    "api_key.revoke": "API key revoked",
    "member.add": "Member added",
    "member.remove": "Member removed",
    "member.role": "Member role changed",
    "identity_verification.on": "Identity verification turned on",
    "identity_verification.off": "Identity verification turned off",
    "identity_verification.secret": "Identity secret regenerated",
    "contact.export": "Contact data exported",
    "contact.erase": "Contact erased",
    "webhook.create": "Webhook endpoint created",
    "webhook.update": "Webhook endpoint edited",
    "webhook.delete": "Webhook endpoint deleted",
    "retention.update": "Data retention changed",
    "environment.update": "Environment settings changed",
    "import.start": "Contact import started",
    "event.delete": "Event deleted",
}


@dataclass(frozen=True)
class Actor:
    user: Any
    label: str
    ip: str | None
    environment_id: int | None


_current: contextvars.ContextVar[Actor | None] = contextvars.ContextVar(
    "hark_audit_actor", default=None
)


def _user_label(user: Any) -> str:
    return (getattr(user, "email", "") or getattr(user, "username", "") or str(user))[:320]


def actor_from_request(request: HttpRequest) -> Actor:
    ip = client_ip(request)
    environment = getattr(request, "environment", None)
    api_key = getattr(request, "auth", None)
    if api_key is not None and hasattr(api_key, "prefix"):
        return _key_actor(api_key, ip)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return Actor(
            user=user,
            label=_user_label(user),
            ip=ip,
            environment_id=environment.pk if environment else None,
        )
    return Actor(user=None, label="anonymous", ip=ip, environment_id=None)


def _key_actor(api_key: Any, ip: str | None) -> Actor:
    label = f"API key {api_key.prefix}…" + (f" ({api_key.name})" if api_key.name else "")
    return Actor(user=None, label=label, ip=ip, environment_id=api_key.environment_id)


def act_for_api_key(request: HttpRequest, api_key: Any) -> None:
    """The REST API authenticated the request with `api_key`: changes the services make for it
    are recorded as that key's, from the client's address (the middleware forgets it when the
    request ends)."""
    _current.set(_key_actor(api_key, client_ip(request)))


def current_actor() -> Actor | None:
    return _current.get()


class AuditContextMiddleware:
    """Remembers the request's actor and client address for `record` calls made by services
    during the request. After AuthenticationMiddleware (and the environment's, for its id)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _current.set(None)
        request._audit_token = token  # type: ignore[attr-defined]
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)

    def process_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        # After EnvironmentMiddleware.process_view: the environment is known here.
        if getattr(request, "user", None) is not None and request.user.is_authenticated:
            _current.set(actor_from_request(request))


def jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (UUID, Decimal)):
        return str(value)
    if isinstance(value, models.Model):
        return str(value.pk)
    return value


def snapshot(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The named fields of an instance, JSON-ready (`before`/`after` of an entry)."""
    return {name: jsonable(getattr(instance, name, None)) for name in fields}


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict, dict]:
    """Only the keys whose value changed, on both sides."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    keys += [k for k in before if k not in after]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def _target(target: Any) -> tuple[str, str, str, int | None]:
    if target is None:
        return "", "", "", None
    if isinstance(target, tuple):
        kind, pk, label = target
        return str(kind), str(pk), str(label)[:255], None
    kind = target._meta.model_name
    label = getattr(target, "name", None) or getattr(target, "key", None) or str(target)
    environment_id = getattr(target, "environment_id", None)
    if kind == "environment":
        environment_id = target.pk
    return kind, str(target.pk), str(label)[:255], environment_id


def record(
    request_or_actor: Any,
    action: str,
    target: Any = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    *,
    environment: Any = None,
) -> AuditEntry | None:
    """Write one audit entry (in the caller's transaction: a change rolled back leaves no
    entry). Returns None when no environment can be told (nothing to file it under)."""
    if isinstance(request_or_actor, HttpRequest):
        actor = actor_from_request(request_or_actor)
    elif request_or_actor is None:
        actor = current_actor() or Actor(user=None, label="system", ip=None, environment_id=None)
    else:
        context = current_actor()
        actor = Actor(
            user=request_or_actor if hasattr(request_or_actor, "is_authenticated") else None,
            label=_user_label(request_or_actor),
            ip=context.ip if context else None,
            environment_id=context.environment_id if context else None,
        )
    target_type, target_id, target_label, target_env = _target(target)
    environment_id = getattr(environment, "pk", environment) or target_env or actor.environment_id
    if environment_id is None:
        return None
    return AuditEntry.objects.create(
        environment_id=environment_id,
        actor=actor.user if getattr(actor.user, "is_authenticated", False) else None,
        actor_label=actor.label,
        ip=actor.ip,
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        before=jsonable(before) if before is not None else None,
        after=jsonable(after) if after is not None else None,
    )


@contextlib.contextmanager
def acting(user: Any, *, ip: str | None = None) -> Iterator[None]:
    """Record changes made inside the block as `user`'s (a management command or a task acting
    for a team member; tests)."""
    token = _current.set(Actor(user=user, label=_user_label(user), ip=ip, environment_id=None))
    try:
        yield
    finally:
        _current.reset(token)
