"""post(): one signed attempt and what it says; endpoint_for(): whose webhook is used.

The peer is httpx.MockTransport (a scripted receiver); post() itself runs for real.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from schemas import Alert, AlertDelivery, Escalation, Recipient
from services.notifier.retry import Attempt
from services.notifier.settings import Endpoint, NotifierSettings
from services.notifier.webhook import Target, endpoint_for, post, verify

SECRET = "hook-secret"
RECIPIENT = Recipient(kind="practitioner", id="sw-881", email="sw-881@council.example",
                      agency_id="council-7")
OTHER = Recipient(kind="practitioner", id="gp-2", email="gp-2@surgery.example", agency_id="gp-9")
ALERT = Alert(
    alert_id=uuid.uuid4(), alert_type="new_agency_contact", child_id="c-1",
    event_id=uuid.uuid4(), recipients=[RECIPIENT], agency_kinds=["school", "gp"],
    shielded=False, created_at=datetime(2026, 11, 20, 10, 15, tzinfo=UTC),
    escalation=Escalation(chain=[OTHER]),
)

Step = Callable[[httpx.Request], httpx.Response]


def _status(code: int) -> Step:
    return lambda request: httpx.Response(code)


def _raise(exc: type[httpx.TransportError]) -> Step:
    def step(request: httpx.Request) -> httpx.Response:
        raise exc("scripted", request=request)
    return step


def _post(step: Step) -> tuple[Attempt, httpx.Request]:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return step(request)

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        attempt = post(client, Target("http://receiver.test/hook", SECRET), ALERT, RECIPIENT)
    return attempt, requests[0]


CASES = [
    # description, scripted answer, ok, retryable, label
    ("200 is delivered", _status(200), True, False, "HTTP 200"),
    ("204 is delivered", _status(204), True, False, "HTTP 204"),
    ("503 is retried", _status(503), False, True, "HTTP 503"),
    ("429 is retried", _status(429), False, True, "HTTP 429"),
    ("400 is final", _status(400), False, False, "HTTP 400"),
    ("404 is final", _status(404), False, False, "HTTP 404"),
    ("a redirect is not followed, and final", _status(302), False, False, "HTTP 302"),
    ("a timeout is retried", _raise(httpx.ReadTimeout), False, True, "timeout"),
    ("a refused connection is retried", _raise(httpx.ConnectError), False, True,
     "connection error"),
]


@pytest.mark.parametrize(("description", "step", "ok", "retryable", "label"), CASES,
                         ids=[c[0] for c in CASES])
def test_attempt(description: str, step: Step, ok: bool, retryable: bool, label: str) -> None:
    attempt, _ = _post(step)
    assert (attempt.ok, attempt.retryable, attempt.label) == (ok, retryable, label)


def test_the_request_is_signed_with_the_idempotency_key() -> None:
    _, request = _post(_status(200))
    headers = request.headers
    assert headers["content-type"] == "application/json"
    assert headers["idempotency-key"] == f"{ALERT.alert_id}:{RECIPIENT.id}"
    assert verify(SECRET, headers["x-signpost-timestamp"], request.content,
                  headers["x-signpost-signature"], tolerance_s=60)


def test_the_body_is_the_alert_as_this_recipient_receives_it() -> None:
    _, request = _post(_status(200))
    body = json.loads(request.content)
    assert body["recipient"] == {"kind": "practitioner", "id": "sw-881"}
    assert "recipients" not in body and "escalation" not in body
    assert "council" not in request.content.decode() and "gp-2" not in request.content.decode()
    delivery = AlertDelivery.model_validate(body)
    assert (delivery.alert_id, delivery.child_id) == (ALERT.alert_id, ALERT.child_id)


def _settings(**overrides: object) -> NotifierSettings:
    return NotifierSettings.model_validate(overrides)


ENDPOINTS = {"sw-881": Endpoint(url="http://own/", secret=SecretStr("own")),
             "council-7": Endpoint(url="http://agency/", secret=SecretStr("agency"))}
ROUTES = [
    # description, settings, recipient, expected (url, secret) or None
    ("nothing configured", {}, RECIPIENT, None),
    ("the default URL", {"webhook_url": "http://default/", "webhook_secret": "d"}, RECIPIENT,
     ("http://default/", "d")),
    ("the practitioner's own entry wins", {"webhook_endpoints": ENDPOINTS,
                                           "webhook_url": "http://default/"}, RECIPIENT,
     ("http://own/", "own")),
    ("then the agency's", {"webhook_endpoints": {"council-7": ENDPOINTS["council-7"]},
                           "webhook_url": "http://default/"}, RECIPIENT,
     ("http://agency/", "agency")),
    ("someone else's entry is not used", {"webhook_endpoints": ENDPOINTS}, OTHER, None),
    ("operators' queues have no webhook", {"webhook_url": "http://default/"},
     Recipient(kind="operators", id="unassigned"), None),
]


@pytest.mark.parametrize(("description", "config", "recipient", "expected"), ROUTES,
                         ids=[r[0] for r in ROUTES])
def test_endpoint_for(description: str, config: dict[str, object], recipient: Recipient,
                      expected: tuple[str, str] | None) -> None:
    target = endpoint_for(recipient, _settings(**config))
    assert (None if target is None else (target.url, target.secret)) == expected


def test_endpoints_are_read_from_json_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNPOST_WEBHOOK_ENDPOINTS",
                       '{"sw-881": {"url": "http://own/", "secret": "s1"}}')
    target = endpoint_for(RECIPIENT, NotifierSettings())
    assert target == Target("http://own/", "s1")
