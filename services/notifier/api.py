"""The one place for the inbox JSON API: list, read and acknowledge one's alerts (DESIGN §6).

Access follows the relationship the alert names: a professional sees alerts addressed to their
token's `sub`; an operator sees the operators' queues; a reviewer the review queue; nobody else
sees anything (access.py). Unknown and not-addressed alerts both answer 403, so ids cannot be
probed. Every read, refusal and acknowledgement is in the audit log, with ids only; when the
log cannot be written the answer is 503 and nothing is served.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, cast
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime, BaseModel, ConfigDict

from schemas import AgencyKind, AlertType, PractitionerContact
from services.notifier.access import acknowledge_for, list_for, open_for
from services.notifier.content import contacts_for
from services.notifier.errors import NotAddressedError
from services.notifier.inbox import InboxItem, InboxStore
from services.notifier.pages import router as pages_router
from services.notifier.settings import NotifierSettings
from signpost.audit import AuditError, AuditLog
from signpost.auth import AuthError, Claims, verify_token
from signpost.http import add_health_routes

__all__ = ["AlertPublic", "CurrentPrincipal", "create_app"]

logger = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False)


class AlertPublic(BaseModel):
    """What leaves the API for one inbox item: the alert's content and its acknowledgement.

    Not the recipient list nor the escalation chain: a caller learns only that the alert is
    addressed to them. Contacts are shielded for a shielded child (content.contacts_for).
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
    escalated_from: UUID | None
    escalation_level: int
    repeats: int
    acknowledged_at: AwareDatetime | None

    @classmethod
    def of(cls, item: InboxItem) -> AlertPublic:
        a = item.alert
        return cls(alert_id=a.alert_id, alert_type=a.alert_type, child_id=a.child_id,
                   event_id=a.event_id, agency_kinds=a.agency_kinds,
                   discrepancies=a.discrepancies, contacts=contacts_for(a), shielded=a.shielded,
                   created_at=a.created_at, escalated_from=a.escalated_from,
                   escalation_level=a.escalation_level, repeats=item.repeats,
                   acknowledged_at=item.acknowledged_at)


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail,
                         headers={"WWW-Authenticate": "Bearer"})


def _principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Claims:
    """The caller's verified claims from `Authorization: Bearer <token>`, else 401."""
    if credentials is None:
        raise unauthorized("missing bearer token")
    try:
        return verify_token(request.app.state.token_secret, credentials.credentials)
    except AuthError as exc:
        raise unauthorized(str(exc)) from exc


def _store(request: Request) -> InboxStore:
    return cast(InboxStore, request.app.state.store)


def _clock(request: Request) -> Callable[[], datetime]:
    return cast(Callable[[], datetime], request.app.state.now)


def _audit(request: Request) -> AuditLog:
    return cast(AuditLog, request.app.state.audit)


CurrentPrincipal = Annotated[Claims, Depends(_principal)]
Store = Annotated[InboxStore, Depends(_store)]
Clock = Annotated[Callable[[], datetime], Depends(_clock)]
Audit = Annotated[AuditLog, Depends(_audit)]


@contextmanager
def _refusals() -> Iterator[None]:
    """Not addressed (or unknown): 403. The audit log cannot be written: 503 (fail closed)."""
    try:
        yield
    except NotAddressedError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "not addressed to you") from exc
    except AuditError as exc:
        logger.error("audit log unavailable (%s): inbox request refused", type(exc).__name__)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "audit log unavailable") from exc


router = APIRouter(prefix="/v1/inbox", tags=["inbox"])


@router.get("", response_model=list[AlertPublic])
def list_inbox(principal: CurrentPrincipal, store: Store, audit: Audit) -> list[AlertPublic]:
    """The caller's alerts, newest first."""
    with _refusals():
        return [AlertPublic.of(i) for i in list_for(store, audit, principal)]


@router.get("/{alert_id}", response_model=AlertPublic)
def read_alert(alert_id: UUID, principal: CurrentPrincipal, store: Store,
               audit: Audit) -> AlertPublic:
    """One alert addressed to the caller."""
    with _refusals():
        return AlertPublic.of(open_for(store, audit, alert_id, principal))


@router.post("/{alert_id}/ack", response_model=AlertPublic)
def acknowledge(alert_id: UUID, principal: CurrentPrincipal, store: Store, audit: Audit,
                now: Clock) -> AlertPublic:
    """Acknowledge an alert in every one of the caller's inboxes holding it; idempotent."""
    with _refusals():
        return AlertPublic.of(acknowledge_for(store, audit, alert_id, principal, now()))


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(settings: NotifierSettings, store: InboxStore, audit: AuditLog,
               now: Callable[[], datetime] = _utc_now) -> FastAPI:
    """The notifier's HTTP app: the inbox page and API, /healthz and /metrics. `audit` is the
    process's one audit log (built in service.main)."""
    app = FastAPI(title="signpost-notifier")
    app.state.store = store
    app.state.audit = audit
    app.state.token_secret = settings.token_secret.get_secret_value()
    app.state.secure_cookies = settings.environment.value == "production"
    app.state.now = now
    app.include_router(router)
    app.include_router(pages_router)
    return add_health_routes(app, "notifier")
