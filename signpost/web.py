"""The one place for what Signpost's server-rendered pages share: headers, forms, sessions, CSRF.

Pages sign in with a signed token kept in an HttpOnly, SameSite=Strict cookie scoped to the
app's path; every form carries a CSRF value derived from the token. No script runs on any
page (the Content-Security-Policy forbids it); images only from the page's own origin.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qs

from fastapi import Request, status
from fastapi.responses import HTMLResponse, RedirectResponse

from signpost.auth import AuthError, Claims, verify_token

__all__ = [
    "HEADERS",
    "MAX_FORM_BYTES",
    "STYLE",
    "csrf_of",
    "csrf_ok",
    "html",
    "read_form",
    "redirect",
    "session",
]

MAX_FORM_BYTES = 8192  # a token, a CSRF value and a few short fields
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STYLE = """
body{font-family:system-ui,sans-serif;max-width:72rem;margin:0 auto;padding:1rem;line-height:1.5;
color:#111;background:#fff}
a{color:#0645ad}a:focus,button:focus,input:focus,select:focus{outline:3px solid #fd0;
outline-offset:2px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem;
border-bottom:1px solid #999;vertical-align:top}
button{font:inherit;padding:.35rem .9rem}input,select{font:inherit;padding:.25rem}
nav ul{list-style:none;padding:0;display:flex;gap:1rem;flex-wrap:wrap}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem}
[role=alert]{border-left:4px solid #b00;padding-left:.5rem}
[role=status]{border-left:4px solid #070;padding-left:.5rem}
dt{font-weight:bold}dd{margin:0 0 .5rem 0}.num{font-variant-numeric:tabular-nums}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #999;padding:.5rem 1rem;
min-width:10rem}.card strong{font-size:1.6rem;display:block}
img{max-width:100%;height:auto}.differs{background:#fff3cd}
"""


def html(body: str, code: int = status.HTTP_200_OK) -> HTMLResponse:
    return HTMLResponse(body, status_code=code, headers=HEADERS)


def redirect(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=status.HTTP_303_SEE_OTHER, headers=HEADERS)


def csrf_of(secret: str, token: str) -> str:
    """The CSRF value of a signed-in session: a keyed hash of its token."""
    return hmac.new(secret.encode(), f"csrf|{token}".encode(), hashlib.sha256).hexdigest()[:32]


def csrf_ok(form: dict[str, str], expected: str) -> bool:
    return hmac.compare_digest(form.get("csrf", ""), expected)


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded form body, one value per field (bounded: a bigger body reads as empty)."""
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        return {}
    return {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}


def session(request: Request, cookie: str, secret: str) -> tuple[Claims, str] | None:
    """The signed-in principal and their CSRF value, from the cookie; None if absent or bad."""
    token = request.cookies.get(cookie)
    if not token:
        return None
    try:
        return verify_token(secret, token), csrf_of(secret, token)
    except AuthError:
        return None
