"""The one place for the matcher's HTTP API: "Who else?" (DESIGN §6) and exceptional access.

Served with /healthz and /metrics on SIGNPOST_MATCHER_HTTP_PORT. Professionals and operators
sign in with the same tokens as the inbox (SIGNPOST_TOKEN_SECRET). Every lookup, answered or
refused, is decided and written to the audit log by `signpost.access.authorise_read` before
anything is served: a relationship to the child, else an active exceptional-access grant
(`signpost.access_api`, mounted here), else 403. Refusals are 403 whether the child is unknown
or simply not the caller's, so child ids cannot be probed; an audit log that cannot be
written is 503.
"""

from __future__ import annotations

import logging
from typing import Annotated, cast

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from kafka import KafkaProducer

from schemas.audit import AuditAction
from services.matcher.console.routes import ConsoleState
from services.matcher.console.routes import router as console_router
from services.matcher.lookup import Lookup, NoRelationship, WhoElse
from services.matcher.settings import MatcherSettings
from signpost import access_api
from signpost.access import GrantStore, ReadDecision, authorise_read
from signpost.audit import AuditError, AuditLog, build_audit_log
from signpost.auth import AuthError, Claims, Role, verify_token
from signpost.errors import ConfigError
from signpost.http import add_health_routes, serve_app_in_thread
from signpost.redis import make_redis

__all__ = ["create_app", "serve_api_in_thread"]

logger = logging.getLogger(__name__)

SERVICE = "matcher"  # the `service` of the audit records this API writes

_bearer = HTTPBearer(auto_error=False)


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


def _audit(request: Request) -> AuditLog:
    return cast(AuditLog, request.app.state.audit)


def _grants(request: Request) -> GrantStore:
    return cast(GrantStore, request.app.state.grants)


Principal = Annotated[Claims, Depends(_principal)]
Store = Annotated[Lookup, Depends(_lookup)]
Audit = Annotated[AuditLog, Depends(_audit)]
Grants = Annotated[GrantStore, Depends(_grants)]

router = APIRouter(prefix="/v1", tags=["who-else"])


def _refused() -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, "no relationship to this child")


def _decide(claims: Claims, child_id: str, lookup: Lookup, audit: AuditLog,
            grants: GrantStore) -> ReadDecision:
    """Decide and audit one lookup; only a professional on the child's record has a
    relationship. An unwritable audit record is 503 (fail closed)."""
    related = claims.role is Role.professional and lookup.has_relationship(
        practitioner_id=claims.sub, child_id=child_id)
    try:
        return authorise_read(audit=audit, grants=grants, claims=claims,
                              action=AuditAction.who_else, child_id=child_id,
                              has_relationship=related)
    except AuditError as exc:
        logger.error("audit log unavailable (%s): who-else refused", type(exc).__name__)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "audit log unavailable") from exc


@router.get("/who-else/{child_id}", response_model=WhoElse)
def who_else(child_id: str, claims: Principal, lookup: Store, audit: Audit,
             grants: Grants) -> WhoElse:
    """Who else is in contact with a child the caller works with, or may read under an
    approved exceptional-access grant. Otherwise 403; every answer and refusal audited."""
    decision = _decide(claims, child_id, lookup, audit, grants)
    if not decision.allowed:
        raise _refused()
    if decision.basis == "exceptional":
        return lookup.answer(asker=claims.sub, child_id=child_id)
    try:
        return lookup.who_else(practitioner_id=claims.sub, child_id=child_id)
    except NoRelationship as exc:  # the record changed since the decision (a split)
        raise _refused() from exc


@router.get("/who-else/by-record/{agency_id}/{agency_record_id}", response_model=WhoElse)
def who_else_by_record(agency_id: str, agency_record_id: str, claims: Principal,
                       lookup: Store, audit: Audit, grants: Grants) -> WhoElse:
    """The same question, naming the child by the caller's own agency record id (DESIGN §6).
    An unknown record is refused like a child without a relationship: ids cannot be probed."""
    child_id = lookup.child_of_record(agency_id=agency_id, agency_record_id=agency_record_id)
    if child_id is None:
        _decide(claims, f"unknown-record:{agency_id}", lookup, audit, grants)
        raise _refused()
    return who_else(child_id, claims, lookup, audit, grants)


def _tokens_usable(settings: MatcherSettings) -> bool:
    """False in production with a placeholder token secret: anyone could forge a token."""
    try:
        settings._refuse_placeholders(token_secret=settings.token_secret)
    except ConfigError:
        return False
    return True


def create_app(settings: MatcherSettings, lookup: Lookup, audit: AuditLog,
               grants: GrantStore, console: ConsoleState | None = None) -> FastAPI:
    """The matcher's HTTP app: Who else?, exceptional access and the operators' console (only
    with a real token secret in production), /healthz and /metrics."""
    app = FastAPI(title="signpost-matcher")
    app.state.lookup = lookup
    app.state.audit = audit
    app.state.grants = grants
    app.state.console = console
    app.state.token_secret = settings.token_secret.get_secret_value()
    if _tokens_usable(settings):
        app.include_router(router)
        app.include_router(access_api.router)
        if console is not None:
            app.include_router(console_router)
    else:
        logger.warning("SIGNPOST_TOKEN_SECRET is not set: Who else? is off")
    return add_health_routes(app, "matcher")


def serve_api_in_thread(settings: MatcherSettings, producer: KafkaProducer,
                        console: ConsoleState | None = None) -> uvicorn.Server | None:
    """The matcher's API on SIGNPOST_MATCHER_HTTP_PORT (0 = none), with its own Redis client;
    its audit log (built once, here) writes through the caller's producer."""
    if not settings.matcher_http_port:
        return None
    r = make_redis(settings)
    audit = build_audit_log(settings, r, producer, SERVICE)
    grants = GrantStore(r, settings.key_prefix, audit, settings.exceptional_access_max_s)
    lookup = Lookup(r, settings.key_prefix, settings.blocking_secret.get_secret_value().encode())
    app = create_app(settings, lookup, audit, grants, console)
    return serve_app_in_thread(app, settings.matcher_http_port, settings.http_host)
