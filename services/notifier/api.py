"""The one place for the inbox JSON API: list, read and acknowledge one's alerts (DESIGN §6).

Access follows the relationship the alert names: a professional sees alerts addressed to their
token's `sub`; an operator sees the operators' queues; a reviewer the review queue; nobody else
sees anything. Unknown and not-addressed alerts both answer 403, so ids cannot be probed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, cast
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime, BaseModel, ConfigDict

from schemas import AgencyKind, AlertType, PractitionerContact, Recipient
from services.notifier.errors import NotAddressedError
from services.notifier.inbox import OPERATOR_QUEUES, REVIEW, InboxItem, InboxStore
from services.notifier.settings import NotifierSettings
from signpost.auth import AuthError, Claims, Role, verify_token
from signpost.http import add_health_routes

__all__ = ["AlertPublic", "CurrentPrincipal", "create_app", "queues_of"]

logger = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False)


class AlertPublic(BaseModel):
    """What leaves the API for one inbox item: the alert's content and its acknowledgement.

    Not the recipient list: a caller learns only that the alert is addressed to them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    alert_id: UUID
    alert_type: AlertType
    child_id: str
    event_id: UUID
    agency_kinds: list[AgencyKind]
    discrepancies: list[str]
    contacts: list[PractitionerContact]
    shielded: bool
    created_at: AwareDatetime
    acknowledged_at: AwareDatetime | None

    @classmethod
    def of(cls, item: InboxItem) -> AlertPublic:
        fields = item.alert.model_dump(exclude={"recipients"})
        return cls(**fields, acknowledged_at=item.acknowledged_at)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail,
                         headers={"WWW-Authenticate": "Bearer"})


def _principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Claims:
    """The caller's verified claims from `Authorization: Bearer <token>`, else 401."""
    if credentials is None:
        raise _unauthorized("missing bearer token")
    try:
        return verify_token(request.app.state.token_secret, credentials.credentials)
    except AuthError as exc:
        raise _unauthorized(str(exc)) from exc


def _store(request: Request) -> InboxStore:
    return cast(InboxStore, request.app.state.store)


CurrentPrincipal = Annotated[Claims, Depends(_principal)]
Store = Annotated[InboxStore, Depends(_store)]


def queues_of(claims: Claims) -> tuple[Recipient, ...]:
    """The inboxes a principal may read: their own, or the operators' queues."""
    if claims.role is Role.professional:
        return (Recipient(kind="practitioner", id=claims.sub),)
    if claims.role is Role.operator:
        return OPERATOR_QUEUES
    if claims.role is Role.reviewer:
        return (REVIEW,)
    return ()


def _addressed(store: InboxStore, alert_id: UUID, claims: Claims) -> list[Recipient]:
    """The caller's inboxes holding the alert; 403 if none (unknown alerts included)."""
    queues = [q for q in queues_of(claims)
              if store.is_addressed_to(alert_id=alert_id, recipient=q)]
    if not queues:
        logger.info("inbox: refused role=%s alert_id=%s", claims.role.value, alert_id)
        raise HTTPException(status.HTTP_403_FORBIDDEN, "not addressed to you")
    return queues


router = APIRouter(prefix="/v1/inbox", tags=["inbox"])


@router.get("", response_model=list[AlertPublic])
def list_inbox(principal: CurrentPrincipal, store: Store) -> list[AlertPublic]:
    """The caller's alerts, newest first."""
    return [AlertPublic.of(i) for i in store.items_for(recipients=queues_of(principal))]


@router.get("/{alert_id}", response_model=AlertPublic)
def read_alert(alert_id: UUID, principal: CurrentPrincipal, store: Store) -> AlertPublic:
    """One alert addressed to the caller."""
    queue = _addressed(store, alert_id, principal)[0]
    try:
        return AlertPublic.of(store.item(alert_id=alert_id, recipient=queue))
    except NotAddressedError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "not addressed to you") from exc


@router.post("/{alert_id}/ack", response_model=AlertPublic)
def acknowledge(alert_id: UUID, principal: CurrentPrincipal, store: Store,
                request: Request) -> AlertPublic:
    """Acknowledge an alert in every one of the caller's inboxes holding it; idempotent."""
    at = cast(Callable[[], datetime], request.app.state.now)()
    items = [store.acknowledge(alert_id=alert_id, recipient=q, at=at)
             for q in _addressed(store, alert_id, principal)]
    return AlertPublic.of(items[0])


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(settings: NotifierSettings, store: InboxStore,
               now: Callable[[], datetime] = _utc_now) -> FastAPI:
    """The notifier's HTTP app: the inbox API, /healthz and /metrics."""
    app = FastAPI(title="signpost-notifier")
    app.state.store = store
    app.state.token_secret = settings.token_secret.get_secret_value()
    app.state.now = now
    app.include_router(router)
    return add_health_routes(app, "notifier")
