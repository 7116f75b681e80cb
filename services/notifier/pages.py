"""The one place for the inbox page's routes: sign in with a token, list, open, acknowledge.

The token lives in an HttpOnly, SameSite=Strict cookie scoped to /inbox (Secure in
production); every form also carries a CSRF value derived from the token. Access rules are
the API's (access.py): another professional's alert answers 403, audited; when the audit log
cannot be written the page answers 503 and shows nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, cast
from urllib.parse import parse_qs
from uuid import UUID

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.notifier import render
from services.notifier.access import acknowledge_for, list_for, open_for
from services.notifier.errors import NotAddressedError
from services.notifier.inbox import InboxStore
from signpost.audit import AuditError, AuditLog
from signpost.auth import AuthError, Claims, verify_token

__all__ = ["COOKIE", "router"]

COOKIE = "signpost_inbox"
MAX_FORM_BYTES = 8192  # a token and a CSRF value; anything bigger is not our form
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

router = APIRouter(prefix="/inbox", include_in_schema=False)


def _html(body: str, code: int = status.HTTP_200_OK) -> HTMLResponse:
    return HTMLResponse(body, status_code=code, headers=HEADERS)


def _redirect(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=status.HTTP_303_SEE_OTHER, headers=HEADERS)


def csrf_of(secret: str, token: str) -> str:
    """The CSRF value of a signed-in session: a keyed hash of its token."""
    return hmac.new(secret.encode(), f"csrf|{token}".encode(), hashlib.sha256).hexdigest()[:32]


async def _form(request: Request) -> dict[str, str]:
    """The urlencoded form body, one value per field (bounded)."""
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        return {}
    return {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}


Form = Annotated[dict[str, str], Depends(_form)]


def _secret(request: Request) -> str:
    return cast(str, request.app.state.token_secret)


def _session(request: Request) -> tuple[Claims, str] | None:
    """The signed-in principal and their CSRF value, from the cookie; None if absent or bad."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        return verify_token(_secret(request), token), csrf_of(_secret(request), token)
    except AuthError:
        return None


def _store(request: Request) -> InboxStore:
    return cast(InboxStore, request.app.state.store)


def _audit(request: Request) -> AuditLog:
    return cast(AuditLog, request.app.state.audit)


def _now(request: Request) -> datetime:
    return cast(Callable[[], datetime], request.app.state.now)()


def _not_addressed() -> HTMLResponse:
    return _html(render.error_page("Not available", "This alert is not addressed to you."),
                 status.HTTP_403_FORBIDDEN)


def _unaudited() -> HTMLResponse:
    """The audit log cannot be written: nothing is shown (fail closed)."""
    return _html(render.error_page("Not available", "Signpost cannot record this access just "
                                   "now, so it cannot show it. Try again shortly."),
                 status.HTTP_503_SERVICE_UNAVAILABLE)


@router.get("/sign-in")
def sign_in_form() -> HTMLResponse:
    return _html(render.sign_in_page())


@router.post("/sign-in")
def sign_in(request: Request, form: Form) -> Response:
    """Check the token, keep it in the cookie until it expires, show the inbox."""
    token = form.get("token", "").strip()
    try:
        claims = verify_token(_secret(request), token)
    except AuthError:
        return _html(render.sign_in_page("That token was not accepted. Check it and try "
                                         "again."), status.HTTP_401_UNAUTHORIZED)
    response = _redirect("/inbox")
    max_age = max(0, claims.exp - int(_now(request).timestamp()))
    response.set_cookie(COOKIE, token, max_age=max_age, path="/inbox", httponly=True,
                        samesite="strict", secure=bool(request.app.state.secure_cookies))
    return response


@router.post("/sign-out")
def sign_out(request: Request, form: Form) -> Response:
    response = _redirect("/inbox/sign-in")
    session = _session(request)
    if session is not None and hmac.compare_digest(form.get("csrf", ""), session[1]):
        response.delete_cookie(COOKIE, path="/inbox")
    return response


@router.get("")
def inbox_page(request: Request) -> Response:
    session = _session(request)
    if session is None:
        return _redirect("/inbox/sign-in")
    claims, csrf = session
    try:
        items = list_for(_store(request), _audit(request), claims)
    except AuditError:
        return _unaudited()
    return _html(render.list_page(items, claims.sub, csrf))


@router.get("/alerts/{alert_id}")
def alert_page(alert_id: UUID, request: Request) -> Response:
    """One alert (the read is audited); 403 if it is not addressed to the caller."""
    session = _session(request)
    if session is None:
        return _redirect("/inbox/sign-in")
    claims, csrf = session
    try:
        item = open_for(_store(request), _audit(request), alert_id, claims)
    except NotAddressedError:
        return _not_addressed()
    except AuditError:
        return _unaudited()
    return _html(render.alert_page(item, claims.sub, csrf))


@router.post("/alerts/{alert_id}/ack")
def acknowledge(alert_id: UUID, request: Request, form: Form) -> Response:
    """Acknowledge, then show the alert again (post/redirect/get)."""
    session = _session(request)
    if session is None:
        return _redirect("/inbox/sign-in")
    claims, csrf = session
    if not hmac.compare_digest(form.get("csrf", ""), csrf):
        return _html(render.error_page("Not acknowledged", "The form expired. Open the alert "
                                       "and try again."), status.HTTP_403_FORBIDDEN)
    try:
        acknowledge_for(_store(request), _audit(request), alert_id, claims, _now(request))
    except NotAddressedError:
        return _not_addressed()
    except AuditError:
        return _unaudited()
    return _redirect(f"/inbox/alerts/{alert_id}")
