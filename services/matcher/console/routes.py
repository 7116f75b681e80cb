"""The one place for the operators' console routes: sign in, dashboard, thresholds, review, split,
audit search. Mounted on the matcher's HTTP app (api.py) under /console.

Sessions and CSRF are signpost/web.py's; actions, role checks and audit are operations.py's, so
the console and `signpost` commands behave the same. Every state change is a POST with a CSRF
value, answered with a redirect (post/redirect/get).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Request, Response, status

from schemas import AuditAction
from services.matcher.audit_search import search_audit
from services.matcher.charts import all_charts_png
from services.matcher.console import render
from services.matcher.console.dashboard import Dashboard
from services.matcher.errors import OperatorError
from services.matcher.operations import NotPermitted, Operations
from signpost.audit import AuditError
from signpost.auth import AuthError, Claims, Role, verify_token
from signpost.settings import CommonSettings
from signpost.web import csrf_ok, html, read_form, redirect, session

__all__ = ["COOKIE", "ConsoleState", "router"]

logger = logging.getLogger(__name__)

COOKIE = "signpost_console"
CONSOLE_ROLES = (Role.operator, Role.reviewer, Role.auditor)
MAX_SPLIT_RECORDS = 200


@dataclass
class ConsoleState:
    ops: Operations
    dashboard: Dashboard
    settings: CommonSettings
    token_secret: str
    secure_cookies: bool

    def close(self) -> None:
        self.dashboard.close()
        self.ops.producer.close()


def _state(request: Request) -> ConsoleState:
    """The console's dependencies; only touched once the caller is signed in."""
    return cast(ConsoleState, getattr(request.app.state, "console", None))


def _secret(request: Request) -> str:
    return cast(str, request.app.state.token_secret)


State = Annotated[ConsoleState, Depends(_state)]
Page = Callable[[Claims, str], Response]  # (the signed-in caller, their CSRF value) -> page
Form = Annotated[dict[str, str], Depends(read_form)]
router = APIRouter(prefix="/console", include_in_schema=False)


class _SignIn(Exception):
    """No valid console session: send the browser to the sign-in page."""


def _who(request: Request, st: ConsoleState) -> tuple[Claims, str]:
    found = session(request, COOKIE, _secret(request))
    if found is None or found[0].role not in CONSOLE_ROLES:
        raise _SignIn
    return found


def _guard(request: Request, st: ConsoleState, form: dict[str, str] | None,
           work: Page) -> Response:
    """Run a page: sign-in redirect, CSRF check for forms, refusals and errors as pages."""
    try:
        claims, csrf = _who(request, st)
        if form is not None and not csrf_ok(form, csrf):
            return html(render.error_page("Form expired", "Reload the page and try again.",
                                          claims.sub, csrf), status.HTTP_403_FORBIDDEN)
        return work(claims, csrf)
    except _SignIn:
        return redirect("/console/sign-in")
    except NotPermitted as exc:
        return html(render.error_page("Not permitted", str(exc)), status.HTTP_403_FORBIDDEN)
    except AuditError:
        logger.exception("console: audit unavailable; refused")
        return html(render.error_page("Unavailable", "The audit log cannot be written, so "
                                      "this is refused. Try again shortly."),
                    status.HTTP_503_SERVICE_UNAVAILABLE)
    except (OperatorError, ValueError) as exc:
        return html(render.error_page("Not done", str(exc)), status.HTTP_409_CONFLICT)


def _now() -> datetime:
    return datetime.now(UTC)


@router.get("/sign-in")
def sign_in_form() -> Response:
    return html(render.sign_in_page())


@router.post("/sign-in")
def sign_in(request: Request, st: State, form: Form) -> Response:
    token = form.get("token", "").strip()
    try:
        claims = verify_token(_secret(request), token)
    except AuthError:
        claims = None
    if claims is None or claims.role not in CONSOLE_ROLES:
        return html(render.sign_in_page("That token was not accepted for the console."),
                    status.HTTP_401_UNAUTHORIZED)
    response = redirect("/console")
    response.set_cookie(COOKIE, token, max_age=max(0, claims.exp - int(_now().timestamp())),
                        path="/console", httponly=True, samesite="strict",
                        secure=bool(st and st.secure_cookies))
    return response


@router.post("/sign-out")
def sign_out(request: Request, form: Form) -> Response:
    response = redirect("/console/sign-in")
    found = session(request, COOKIE, _secret(request))
    if found is not None and csrf_ok(form, found[1]):
        response.delete_cookie(COOKIE, path="/console")
    return response


@router.get("")
def dashboard(request: Request, st: State) -> Response:
    return _guard(request, st, None, lambda c, x: html(render.dashboard_page(
        st.dashboard.gather(_now()), c.sub, x)))


def _setting(request: Request, st: ConsoleState) -> tuple[float, float]:
    live = st.ops.thresholds.current()
    q = request.query_params
    return float(q.get("upper", live.upper)), float(q.get("lower", live.lower))


@router.get("/thresholds")
def thresholds(request: Request, st: State) -> Response:
    def work(claims: Claims, csrf: str) -> Response:
        upper, lower = _setting(request, st)
        ev, _ = st.ops.evidence(upper=upper, lower=lower)
        return html(render.thresholds_page(st.ops.thresholds.current(), ev,
                                           st.ops.thresholds.history(), claims.sub, csrf,
                                           request.query_params.get("done")))
    return _guard(request, st, None, work)


@router.get("/thresholds/chart.png")
def thresholds_chart(request: Request, st: State) -> Response:
    def work(claims: Claims, csrf: str) -> Response:
        upper, lower = _setting(request, st)
        ev, pairs = st.ops.evidence(upper=upper, lower=lower)
        return Response(all_charts_png(ev, pairs), media_type="image/png",
                        headers={"Cache-Control": "no-store"})
    return _guard(request, st, None, work)


@router.post("/thresholds")
def set_thresholds(request: Request, st: State, form: Form) -> Response:
    def work(claims: Claims, csrf: str) -> Response:
        new = st.ops.set_thresholds(claims, upper=float(form.get("upper", "")),
                                    lower=float(form.get("lower", "")),
                                    reason=form.get("reason", ""),
                                    expected_version=int(form.get("version", "0")))
        return redirect(f"/console/thresholds?done=Thresholds+set:+version+{new.version}")
    return _guard(request, st, form, work)


@router.get("/review")
def review_queue(request: Request, st: State) -> Response:
    return _guard(request, st, None, lambda c, x: html(render.queue_page(
        st.ops.queue(c), c.sub, x)))


@router.get("/review/{review_id}")
def review_item(review_id: str, request: Request, st: State) -> Response:
    def work(claims: Claims, csrf: str) -> Response:
        if request.query_params.get("open") == "1":
            detail = st.ops.open_review(claims, review_id)
            return html(render.review_page(detail.item, detail, claims.sub, csrf))
        return html(render.review_page(st.ops.masked(claims, review_id), None, claims.sub, csrf))
    return _guard(request, st, None, work)


@router.post("/review/{review_id}/{verdict}")
def review_decide(review_id: str, verdict: str, request: Request, st: State,
                  form: Form) -> Response:
    def work(claims: Claims, csrf: str) -> Response:
        reason = form.get("reason", "").strip() or None
        if verdict == "accept":
            st.ops.accept(claims, review_id, reason)
        elif verdict == "reject":
            st.ops.reject(claims, review_id, reason)
        else:
            return html(render.error_page("Not found", "No such decision."),
                        status.HTTP_404_NOT_FOUND)
        return redirect(f"/console/review/{review_id}")
    return _guard(request, st, form, work)


@router.get("/split")
def split_form(request: Request, st: State) -> Response:
    def work(claims: Claims, csrf: str) -> Response:
        child = request.query_params.get("child", "").strip()
        found = st.ops.children_records(claims, child) if child else None
        return html(render.split_page(found, claims.sub, csrf,
                                      request.query_params.get("done")))
    return _guard(request, st, None, work)


@router.post("/split")
def split(request: Request, st: State, form: Form) -> Response:
    def work(claims: Claims, csrf: str) -> Response:
        records = [v for k, v in form.items() if k.startswith("r") and k[1:].isdigit()]
        result = st.ops.split(claims, child_id=form.get("child", ""),
                              record_ids=records[:MAX_SPLIT_RECORDS],
                              into=form.get("into", "").strip() or None,
                              reason=form.get("reason", ""))
        return redirect(f"/console/split?child={result.target}&done=Moved+"
                        f"{len(result.moved)}+records+to+{result.target}")
    return _guard(request, st, form, work)


@router.get("/audit")
def audit(request: Request, st: State) -> Response:
    def work(claims: Claims, csrf: str) -> Response:
        if claims.role not in (Role.operator, Role.auditor):
            raise NotPermitted(f"role {claims.role.value} may not search the audit log")
        query = {k: request.query_params.get(k, "") for k in ("actor", "action", "child_id")}
        st.ops.audit.record(actor=claims.sub, role=claims.role.value,
                            action=AuditAction.console_search, target="audit search")
        records = search_audit(st.settings.kafka_bootstrap, st.settings.topics.audit, query)
        return html(render.audit_page(records, query, claims.sub, csrf))
    return _guard(request, st, None, work)
