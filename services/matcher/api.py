"""The one place for the matcher's HTTP API: "Who else?" (DESIGN §6).

Served with /healthz and /metrics on SIGNPOST_MATCHER_HTTP_PORT. Professionals and operators
sign in with the same tokens as the inbox (SIGNPOST_TOKEN_SECRET). Every answer and every
refusal is audited with ids only; refusals are 403 whether the child is unknown or simply not
the caller's, so child ids cannot be probed.
"""

from __future__ import annotations

import logging
from typing import Annotated, cast

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.matcher.lookup import Lookup, NoRelationship, WhoElse
from services.matcher.settings import MatcherSettings
from signpost.auth import AuthError, Claims, Role, verify_token
from signpost.errors import ConfigError
from signpost.http import add_health_routes, serve_app_in_thread
from signpost.redis import make_redis

__all__ = ["create_app", "serve_api_in_thread"]

logger = logging.getLogger(__name__)
audit_logger = logging.getLogger("signpost.audit")

_bearer = HTTPBearer(auto_error=False)


def audit(claims: Claims, action: str, outcome: str, child_id: str) -> None:
    """Report one lookup, ids only (until signpost/audit.py is wired in here)."""
    audit_logger.info("audit actor=%s role=%s action=%s child_id=%s outcome=%s",
                      claims.sub, claims.role.value, action, child_id, outcome)


def _principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Claims:
    if credentials is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing bearer token")
    try:
        return verify_token(request.app.state.token_secret, credentials.credentials)
    except AuthError as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc)) from exc


def _lookup(request: Request) -> Lookup:
    return cast(Lookup, request.app.state.lookup)


Principal = Annotated[Claims, Depends(_principal)]
Store = Annotated[Lookup, Depends(_lookup)]


def _refuse(claims: Claims, action: str, child_id: str) -> HTTPException:
    audit(claims, action, "refused", child_id)
    return HTTPException(status.HTTP_403_FORBIDDEN, "no relationship to this child")


router = APIRouter(prefix="/v1", tags=["who-else"])


@router.get("/who-else/{child_id}", response_model=WhoElse)
def who_else(child_id: str, claims: Principal, lookup: Store) -> WhoElse:
    """Who else is in contact with a child the caller works with.

    No relationship: 403, audited. An exceptional-access grant (signpost/access.py) is the
    other way in; wiring it here is `authorise_read` then `Lookup.answer`.
    """
    if claims.role is not Role.professional:
        raise _refuse(claims, "who_else.read", child_id)
    try:
        answer = lookup.who_else(practitioner_id=claims.sub, child_id=child_id)
    except NoRelationship as exc:
        raise _refuse(claims, "who_else.read", child_id) from exc
    audit(claims, "who_else.read", "granted", child_id)
    return answer


def _tokens_usable(settings: MatcherSettings) -> bool:
    """False in production with a placeholder token secret: anyone could forge a token."""
    try:
        settings._refuse_placeholders(token_secret=settings.token_secret)
    except ConfigError:
        return False
    return True


def create_app(settings: MatcherSettings, lookup: Lookup) -> FastAPI:
    """The matcher's HTTP app: Who else? (only with a real token secret in production),
    /healthz and /metrics."""
    app = FastAPI(title="signpost-matcher")
    app.state.lookup = lookup
    app.state.token_secret = settings.token_secret.get_secret_value()
    if _tokens_usable(settings):
        app.include_router(router)
    else:
        logger.warning("SIGNPOST_TOKEN_SECRET is not set: Who else? is off")
    return add_health_routes(app, "matcher")


def serve_api_in_thread(settings: MatcherSettings) -> uvicorn.Server | None:
    """The matcher's API on SIGNPOST_MATCHER_HTTP_PORT (0 = none), with its own Redis client."""
    if not settings.matcher_http_port:
        return None
    lookup = Lookup(make_redis(settings), settings.key_prefix)
    return serve_app_in_thread(create_app(settings, lookup), settings.matcher_http_port,
                               settings.http_host)
