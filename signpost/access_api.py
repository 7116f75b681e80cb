"""The one place for exceptional access over HTTP: request, approve, revoke, list pending.

A router any service app can include (the matcher's, next to Who else?). It needs
`app.state.grants` (a `GrantStore`) and `app.state.token_secret`; every step is audited by the
store. Refusals are 403 naming the rule; an audit log that cannot be written is 503.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, cast

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from signpost.access import PURPOSE_MIN_CHARS, AccessError, Grant, GrantStore
from signpost.audit import AuditError
from signpost.auth import AuthError, Claims, Role, verify_token

__all__ = ["GrantRequest", "router"]

_bearer = HTTPBearer(auto_error=False)


class GrantRequest(BaseModel):
    """What a requester sends: which child, why, and for how long once approved."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    child_id: str = Field(min_length=1, max_length=100)
    purpose: str = Field(min_length=PURPOSE_MIN_CHARS, max_length=300)
    duration_s: int = Field(gt=0, description="from approval; at most the configured maximum")


def _principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Claims:
    """The caller's verified claims, else 401."""
    if credentials is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing bearer token",
                            headers={"WWW-Authenticate": "Bearer"})
    try:
        return verify_token(request.app.state.token_secret, credentials.credentials)
    except AuthError as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc),
                            headers={"WWW-Authenticate": "Bearer"}) from exc


def _grants(request: Request) -> GrantStore:
    return cast(GrantStore, request.app.state.grants)


Principal = Annotated[Claims, Depends(_principal)]
Grants = Annotated[GrantStore, Depends(_grants)]

router = APIRouter(prefix="/v1/exceptional-access", tags=["exceptional access"])


def _step(run: Callable[[], Grant]) -> Grant:
    """Map the store's refusals to HTTP: a rule is 403, an unwritten audit record 503."""
    try:
        return run()
    except AccessError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    except AuditError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "audit log unavailable") from exc


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Grant)
def request_grant(body: GrantRequest, claims: Principal, grants: Grants) -> Grant:
    """Ask for access to one child without a relationship; a second person must approve."""
    return _step(lambda: grants.request(claims=claims, child_id=body.child_id,
                                        purpose=body.purpose, duration_s=body.duration_s))


@router.post("/{grant_id}/approve", response_model=Grant)
def approve_grant(grant_id: str, claims: Principal, grants: Grants) -> Grant:
    """Approve a pending request: an operator who is not the requester."""
    return _step(lambda: grants.approve(claims=claims, grant_id=grant_id))


@router.post("/{grant_id}/revoke", response_model=Grant)
def revoke_grant(grant_id: str, claims: Principal, grants: Grants) -> Grant:
    """End a grant early: its requester or an operator."""
    return _step(lambda: grants.revoke(claims=claims, grant_id=grant_id))


@router.get("", response_model=list[Grant])
def pending_grants(claims: Principal, grants: Grants) -> list[Grant]:
    """Requests awaiting approval: operators and auditors."""
    if claims.role not in (Role.operator, Role.auditor):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "operators and auditors only")
    return grants.pending()
