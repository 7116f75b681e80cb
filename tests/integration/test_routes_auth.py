"""Nothing personal is reachable unauthenticated: every route of every FastAPI app refuses a
request without credentials, or with a forged one.

Apps are found, not listed: every `create_app` in `services/` and `signpost/` is built with its
settings and with stand-ins for its stores that fail the test if a route touches them, and
every module-level `router` not built by a `create_app` is mounted alone. A route
refuses with 401 or 403, or by redirecting to a sign-in page; only the routes in `OPEN` answer
without credentials, and they must not touch a store either.
"""

from __future__ import annotations

import importlib
import inspect
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, get_type_hints

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic_settings import BaseSettings

from signpost.auth import Role, issue_token

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TOKEN_SECRET = "routes-test-token-secret"

#: (method, path) answered without credentials, and why that is safe.
OPEN = {
    ("GET", "/healthz"): "liveness, no data",
    ("GET", "/metrics"): "Prometheus counters, no personal data (checked elsewhere)",
    ("GET", "/openapi.json"): "the API's description, no data",
    ("GET", "/docs"): "the API's description, no data",
    ("GET", "/docs/oauth2-redirect"): "the API's description, no data",
    ("GET", "/redoc"): "the API's description, no data",
    ("GET", "/inbox/sign-in"): "the sign-in form",
    ("POST", "/inbox/sign-in"): "where a token is presented",
    ("POST", "/inbox/sign-out"): "forgets the cookie",
    ("GET", "/console/sign-in"): "the operators' console sign-in form",
    ("POST", "/console/sign-in"): "where a token is presented",
    ("POST", "/console/sign-out"): "forgets the cookie",
}
#: Modules that build a FastAPI app without a `create_app`, and why they need no walk.
HEALTH_ONLY = {"signpost.http": "serve_health_in_thread: /healthz and /metrics only"}
SIGN_IN = re.compile(r"sign-?in|login", re.IGNORECASE)


class Untouchable:
    """Stands in for a store, producer or lookup: any use fails the test."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        raise AssertionError(f"{self._name}.{attr} reached without credentials")


def _modules_with(text: str) -> list[str]:
    found = []
    for path in sorted([*ROOT.glob("services/**/*.py"), *ROOT.glob("signpost/**/*.py")]):
        if text in path.read_text(encoding="utf-8"):
            found.append(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return found


def _build(factory: Callable[..., FastAPI]) -> FastAPI:
    """Call a create_app: settings from the environment, an Untouchable for anything else."""
    hints = get_type_hints(factory)
    args: dict[str, Any] = {}
    for name, param in inspect.signature(factory).parameters.items():
        if param.default is not inspect.Parameter.empty:
            continue
        hint = hints.get(name)
        if inspect.isclass(hint) and issubclass(hint, BaseSettings):
            args[name] = hint()
        else:
            args[name] = Untouchable(name)
    return factory(**args)


@pytest.fixture
def apps(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, FastAPI]]:
    monkeypatch.setenv("SIGNPOST_ENVIRONMENT", "test")
    monkeypatch.setenv("SIGNPOST_TOKEN_SECRET", TOKEN_SECRET)
    monkeypatch.setenv("SIGNPOST_KAFKA_BOOTSTRAP", "127.0.0.1:1")  # nothing may connect
    monkeypatch.setenv("SIGNPOST_REDIS_URL", "redis://127.0.0.1:1/0")
    built = {}
    makers = _modules_with("def create_app(")
    for module in makers:
        built[module] = _build(importlib.import_module(module).create_app)
    for module in set(_modules_with("router = APIRouter(")) - set(makers):
        built[module] = _mounted(importlib.import_module(module).router)
    yield built


def _mounted(router: APIRouter) -> FastAPI:
    """A router no create_app of its own builds (it is meant to be included): mounted alone,
    with the token secret and nothing else in app.state."""
    app = FastAPI()
    app.state.token_secret = TOKEN_SECRET
    app.include_router(router)
    return app


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path template) of every route, into included routers however FastAPI keeps
    them (flattened at include time, or lazily as an included-router entry)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes, prefix + route.include_context.prefix)
            continue
        for method in sorted(getattr(route, "methods", None) or ()):
            if method != "HEAD":
                yield method, prefix + route.path


def _concrete(template: str) -> str:
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), template)


def _refused(response: Any) -> bool:
    if response.status_code in (401, 403):
        return True
    return response.is_redirect and bool(SIGN_IN.search(response.headers.get("location", "")))


def test_every_app_is_found() -> None:
    makers = set(_modules_with("def create_app("))
    builders = set(_modules_with("FastAPI("))
    assert builders - makers <= set(HEALTH_ONLY), "an app without create_app is not walked"
    assert {"services.ingest.gateway", "services.notifier.api"} <= makers


def test_every_route_refuses_without_credentials(apps: dict[str, FastAPI]) -> None:
    forged = issue_token("not-the-secret", "sw-1", Role.operator)
    walked = []
    for module, app in apps.items():
        client = TestClient(app, follow_redirects=False, raise_server_exceptions=True)
        for method, template in _routes(app.routes):
            for headers in ({}, {"Authorization": f"Bearer {forged}"},
                            {"Authorization": "Bearer "}, {"Authorization": "Basic eDp5"}):
                response = client.request(method, _concrete(template), headers=headers, json={})
                where = (module, method, template, headers, response.status_code)
                assert response.status_code < 500, where
                if (method, template) not in OPEN:
                    assert _refused(response), where
            walked.append((method, template))
    guarded = [w for w in walked if w not in OPEN]
    assert ("POST", "/v1/events") in guarded and ("GET", "/v1/inbox/{alert_id}") in guarded
    assert ("POST", "/v1/exceptional-access/{grant_id}/approve") in guarded
    assert len(guarded) >= 6, guarded


def test_the_walk_would_catch_an_open_route() -> None:
    app = FastAPI()

    @app.get("/v1/children/{child_id}")
    def leak(child_id: str) -> dict[str, str]:
        return {"child_id": child_id, "given_name": "Victoria"}

    ((method, template),) = [
        r for r in _routes(app.routes) if r not in OPEN]
    response = TestClient(app).request(method, _concrete(template))
    assert not _refused(response)


def test_token_commands_issue_bounded_tokens_and_check_them() -> None:
    from typer.testing import CliRunner

    from signpost.cli import app

    runner = CliRunner()
    env = {"SIGNPOST_TOKEN_SECRET": TOKEN_SECRET, "SIGNPOST_ENVIRONMENT": "test"}
    issued = runner.invoke(app, ["token", "issue", "--sub", "sw-1", "--role", "auditor",
                                 "--ttl", "600"], env=env)
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip()
    assert "expires" in issued.stderr and "expires" not in issued.stdout
    checked = runner.invoke(app, ["token", "verify", token], env=env)
    assert checked.exit_code == 0 and '"role":"auditor"' in checked.stdout
    other = runner.invoke(app, ["token", "verify", token],
                          env={**env, "SIGNPOST_TOKEN_SECRET": "another-secret"})
    assert other.exit_code == 1
    assert runner.invoke(app, ["token", "issue", "--sub", "sw-1", "--ttl", "172800"],
                         env=env).exit_code == 2  # more than a day
    assert runner.invoke(app, ["token", "issue", "--sub", " "], env=env).exit_code == 2
    assert runner.invoke(app, ["token", "issue", "--sub", "sw-1"],
                         env={"SIGNPOST_TOKEN_SECRET": ""}).exit_code == 2
    production = {"SIGNPOST_ENVIRONMENT": "production", "SIGNPOST_TOKEN_SECRET": "changethis"}
    assert runner.invoke(app, ["token", "issue", "--sub", "sw-1"], env=production).exit_code == 2
