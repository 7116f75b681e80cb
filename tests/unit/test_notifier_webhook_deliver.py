"""post(): one signed attempt and what it says; endpoint_for(): whose webhook is used.

The peer is a real local HTTP server that answers as each case scripts it (tests/support/
scripted.py); post() and its Sender run for real.
"""

from __future__ import annotations

import json
import socket
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from schemas import Alert, AlertDelivery, Escalation, Recipient
from services.notifier.retry import Attempt
from services.notifier.sender import Sender
from services.notifier.settings import Endpoint, NotifierSettings
from services.notifier.webhook import Target, endpoint_for, post, verify
from tests.support.scripted import Answer, Request, ScriptedServer

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


def _post(answer: Answer) -> tuple[Attempt, Request]:
    with ScriptedServer(lambda request: answer) as server:
        sender = Sender(timeout_s=0.5)
        try:
            attempt = post(sender, Target(f"{server.url}/hook", SECRET), ALERT, RECIPIENT)
        finally:
            sender.close()
        return attempt, server.requests[0]


def _refused() -> Attempt:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sender = Sender(timeout_s=0.5)
    return post(sender, Target(f"http://127.0.0.1:{port}/hook", SECRET), ALERT, RECIPIENT)


CASES = [
    # description, scripted answer, ok, retryable, label
    ("200 is delivered", Answer(200), True, False, "HTTP 200"),
    ("204 is delivered", Answer(204), True, False, "HTTP 204"),
    ("503 is retried", Answer(503), False, True, "HTTP 503"),
    ("429 is retried", Answer(429), False, True, "HTTP 429"),
    ("400 is final", Answer(400), False, False, "HTTP 400"),
    ("404 is final", Answer(404), False, False, "HTTP 404"),
    ("a redirect is not followed, and final",
     Answer(302, headers={"Location": "http://elsewhere.test/"}), False, False, "HTTP 302"),
    ("a timeout is retried", Answer(200, delay_s=2.0), False, True, "timeout"),
    ("a connection closed without an answer is retried", Answer(0), False, True,
     "connection error"),
]


@pytest.mark.parametrize(("description", "answer", "ok", "retryable", "label"), CASES,
                         ids=[c[0] for c in CASES])
def test_attempt(description: str, answer: Answer, ok: bool, retryable: bool,
                 label: str) -> None:
    attempt, _ = _post(answer)
    assert (attempt.ok, attempt.retryable, attempt.label) == (ok, retryable, label)


def test_a_refused_connection_is_retried() -> None:
    attempt = _refused()
    assert (attempt.ok, attempt.retryable, attempt.label) == (False, True, "connection error")


@pytest.mark.parametrize("url", ["ftp://receiver.test/hook", "http://receiver.test:port/"])
def test_an_unusable_url_is_final(url: str) -> None:
    attempt = post(Sender(timeout_s=0.5), Target(url, SECRET), ALERT, RECIPIENT)
    assert (attempt.ok, attempt.retryable, attempt.label) == (False, False,
                                                              "unusable URL or proxy")


def test_the_request_is_signed_with_the_idempotency_key() -> None:
    _, request = _post(Answer(200))
    headers = request.headers
    assert request.method == "POST" and request.target == "/hook"
    assert headers["content-type"] == "application/json"
    assert headers["idempotency-key"] == f"{ALERT.alert_id}:{RECIPIENT.id}"
    assert verify(SECRET, headers["x-signpost-timestamp"], request.body,
                  headers["x-signpost-signature"], tolerance_s=60)


def test_the_body_is_the_alert_as_this_recipient_receives_it() -> None:
    _, request = _post(Answer(200))
    body = json.loads(request.body)
    assert body["recipient"] == {"kind": "practitioner", "id": "sw-881"}
    assert "recipients" not in body and "escalation" not in body
    assert "council" not in request.body.decode() and "gp-2" not in request.body.decode()
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
