"""Who is calling: an API key (``X-API-Key`` or ``Authorization: Bearer``) becomes a user and a role.

The role travels as a :class:`Principal` into the semantic layer, whose policies decide what
the user may read; this module only refuses callers that could read nothing (401 without a
known key, 403 when the user's entry cannot work: a role the model does not define, or a
store manager without a store). In demo mode (no users configured) everyone is admin, and
requests from web pages not served by this machine are refused, so a site the user visits
cannot read the local server through their browser.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request

from api.server.config import User
from api.server.errors import ApiError
from api.server.services import Services
from semantic_layer.query import Principal
from semantic_layer.semantic_model import SemanticModel

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="chatbi"'}


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: the name conversations are kept under, and the principal asking."""

    name: str
    principal: Principal


DEMO_CALLER = Caller(name="demo", principal=Principal(role="admin"))


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def authenticate(request: Request) -> Caller:
    """FastAPI dependency: the caller of this request, or a 401/403 :class:`ApiError`."""
    services = services_of(request)
    config = services.config
    if config.demo_mode:
        origin = request.headers.get("origin")
        if origin and not is_loopback_origin(origin):
            raise ApiError(403, "demo mode answers pages served from this machine only; configure users to embed it")
        return DEMO_CALLER
    key = presented_key(request)
    if not key:
        raise ApiError(401, "missing credentials: send X-API-Key: KEY or Authorization: Bearer KEY", _CHALLENGE)
    user = config.by_api_key(key)
    if user is None:
        raise ApiError(401, "unknown API key", _CHALLENGE)
    problem = user_problem(user, services.assistant.model)
    if problem:
        raise ApiError(403, problem)
    return Caller(name=user.name, principal=user.principal)


def presented_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key", "").strip()
    if key:
        return key
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def user_problem(user: User, model: SemanticModel) -> str | None:
    """Why this configured user can ask nothing (a sentence for them and their admin), or None.

    Only the model's roles are read, so `chatbi serve` can warn before any worker has opened the warehouse.
    """
    roles = model.roles
    role = roles.get(user.role)
    if role is None:
        return f"user '{user.name}' has role '{user.role}', which is not one of the roles: {', '.join(roles)}"
    for row_filter in role.row_filters:
        if getattr(user.principal, row_filter.principal_attribute, None) is None:
            attribute = row_filter.principal_attribute.removesuffix("_id")
            return f"user '{user.name}' is a {role.name} without a {attribute}: the server config must name one"
    return None


def is_loopback_origin(origin: str) -> bool:
    host = urlsplit(origin).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
