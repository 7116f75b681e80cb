"""deliver(): which answers are retried, how often, and what the outcome says.

The peer is httpx.MockTransport (a scripted receiver); deliver() itself runs for real, with a
recorded `sleep` instead of waiting.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from schemas import Alert, Recipient
from services.notifier.retry import Backoff
from services.notifier.webhook import DeliveryOutcome, deliver, verify

SECRET = "hook-secret"
RECIPIENT = Recipient(kind="practitioner", id="sw-881")
ALERT = Alert(
    alert_id=uuid.uuid4(), alert_type="new_agency_contact", child_id="c-1",
    event_id=uuid.uuid4(), recipients=[RECIPIENT], agency_kinds=["school", "gp"],
    shielded=False, created_at=datetime(2026, 11, 20, 10, 15, tzinfo=UTC),
)

Step = Callable[[httpx.Request], httpx.Response]


def _status(code: int) -> Step:
    return lambda request: httpx.Response(code)


def _raise(exc: type[httpx.TransportError]) -> Step:
    def step(request: httpx.Request) -> httpx.Response:
        raise exc("scripted", request=request)
    return step


def _run(steps: list[Step], max_attempts: int = 5) -> tuple[DeliveryOutcome, list[httpx.Request],
                                                            list[float]]:
    requests: list[httpx.Request] = []
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return steps[min(len(requests), len(steps)) - 1](request)

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        outcome = deliver(client, "http://receiver.test/hook", SECRET, ALERT, RECIPIENT,
                          Backoff(0.1, 1.0), max_attempts, sleep=sleeps.append)
    return outcome, requests, sleeps


CASES = [
    # description, scripted answers, max attempts, delivered, attempts, detail
    ("first try", [_status(200)], 5, True, 1, "HTTP 200 after 1 attempt"),
    ("503 twice then 204", [_status(503), _status(503), _status(204)], 5, True, 3,
     "HTTP 204 after 3 attempts"),
    ("429 is retried", [_status(429), _status(200)], 5, True, 2, "HTTP 200 after 2 attempts"),
    ("always 503", [_status(503)], 5, False, 5, "HTTP 503 after 5 attempts"),
    ("400 is final", [_status(400)], 5, False, 1, "HTTP 400 after 1 attempt"),
    ("404 is final", [_status(503), _status(404)], 5, False, 2, "HTTP 404 after 2 attempts"),
    ("timeouts are retried", [_raise(httpx.ReadTimeout)], 3, False, 3,
     "timeout after 3 attempts"),
    ("connection errors are retried", [_raise(httpx.ConnectError), _status(200)], 3, True, 2,
     "HTTP 200 after 2 attempts"),
    ("connection refused to the end", [_raise(httpx.ConnectError)], 2, False, 2,
     "connection error after 2 attempts"),
]


@pytest.mark.parametrize(("description", "steps", "max_attempts", "delivered", "attempts",
                          "detail"), CASES, ids=[c[0] for c in CASES])
def test_outcome(description: str, steps: list[Step], max_attempts: int, delivered: bool,
                 attempts: int, detail: str) -> None:
    outcome, requests, sleeps = _run(steps, max_attempts)
    assert (outcome.delivered, outcome.attempts, outcome.detail) == (delivered, attempts, detail)
    assert len(requests) == attempts
    assert len(sleeps) == attempts - 1  # never sleeps after the last attempt
    assert all(0.0 <= s <= Backoff(0.1, 1.0).ceiling(i) for i, s in enumerate(sleeps))


def test_every_attempt_is_signed_with_the_same_body_and_key() -> None:
    _, requests, _ = _run([_status(503), _status(200)])
    for request in requests:
        headers = request.headers
        assert headers["content-type"] == "application/json"
        assert headers["idempotency-key"] == f"{ALERT.alert_id}:{RECIPIENT.id}"
        assert verify(SECRET, headers["x-signpost-timestamp"], request.content,
                      headers["x-signpost-signature"])
    assert requests[0].content == requests[1].content


def test_body_is_the_alert_plus_its_recipient() -> None:
    _, requests, _ = _run([_status(200)])
    body = json.loads(requests[0].content)
    assert body.pop("recipient") == {"kind": "practitioner", "id": "sw-881"}
    assert Alert.model_validate(body) == ALERT
