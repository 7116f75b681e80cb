"""The inbox page in a real headless browser (Debian's chromium, driven by Playwright).

A professional signs in with their token, sees only their alerts, opens one, acknowledges it;
another professional's alert answers 403. A screenshot is kept in tests/artefacts/.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis
from playwright.sync_api import Browser, Page

from schemas import Alert, Escalation, Recipient
from services.notifier.inbox import InboxStore
from services.notifier.ledger import Ledger
from services.notifier.service import main
from services.notifier.settings import NotifierSettings
from signpost.auth import Role, issue_token
from signpost.embedded import free_port
from signpost.kafka import ensure_topics, make_producer
from tests.support.browser import ARTEFACTS, CHROMIUM, chromium
from tests.support.wait import wait_until

TOKEN_SECRET = "browser-token-secret"
SW1 = Recipient(kind="practitioner", id="sw-1", email="sw-1@council.example")
SW2 = Recipient(kind="practitioner", id="sw-2")

pytestmark = [
    pytest.mark.integration, pytest.mark.timeout(60),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed (.ci/run "
                                                     "installs it)"),
]


def _alert(recipient: Recipient, shielded: bool = False) -> Alert:
    contact = {"practitioner_id": "gp-9", "name": "Dr Ann Patel", "role": "GP",
               "email": "ann.patel@surgery.example", "phone": None, "agency_kind": "gp"}
    return Alert(alert_id=uuid.uuid4(), alert_type="identity_discrepancy", child_id="C1234",
                 event_id=uuid.uuid4(), recipients=[recipient], agency_kinds=["school", "gp"],
                 discrepancies=["name"], contacts=[contact], shielded=shielded,
                 created_at=datetime(2026, 11, 20, 10, 15, tzinfo=UTC),
                 escalation=Escalation(chain=[SW2]))


@pytest.fixture
def inbox_url(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A running notifier with its inbox page; yields the page's address."""
    port = free_port()
    for key, value in (env | {"SIGNPOST_TOKEN_SECRET": TOKEN_SECRET,
                              "SIGNPOST_INBOX_PORT": str(port)}).items():
        monkeypatch.setenv(key, value)
    settings = NotifierSettings()
    ensure_topics(settings)
    stop = threading.Event()
    thread = threading.Thread(target=main, args=(settings, stop), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/inbox"
    stop.set()
    thread.join(timeout=15)


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _publish(env: dict[str, str], *alerts: Alert) -> None:
    settings = NotifierSettings()
    producer = make_producer(settings)
    for alert in alerts:
        producer.send(settings.topics.alerts, alert.model_dump_json().encode())
    producer.flush()
    producer.close()


def _sign_in(page: Page, url: str, sub: str) -> None:
    page.goto(url)
    assert page.url.endswith("/inbox/sign-in")
    page.get_by_label("Your Signpost access token").fill(
        issue_token(TOKEN_SECRET, sub, Role.professional))
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_open_and_acknowledge_an_alert(
    inbox_url: str, browser: Browser, env: dict[str, str], redis_client: redis.Redis
) -> None:
    mine, theirs = _alert(SW1), _alert(SW2)
    _publish(env, mine, theirs)
    store = InboxStore(redis_client, env["SIGNPOST_KEY_PREFIX"])
    wait_until(lambda: store.is_addressed_to(alert_id=theirs.alert_id, recipient=SW2),
               timeout_s=15)
    page = browser.new_page()
    _sign_in(page, inbox_url, "sw-1")

    assert page.get_by_role("heading", level=1).inner_text() == "Your alerts"
    links = page.get_by_role("link", name="Identity details differ between services")
    assert links.count() == 1  # sw-2's alert is not listed
    links.click()
    assert page.get_by_role("heading", level=1).inner_text() == "Alert"
    assert "Dr Ann Patel" in page.content() and "C1234" in page.content()
    page.get_by_role("button", name="Acknowledge this alert").click()
    assert "Acknowledged 20" in page.get_by_role("status").inner_text()
    ARTEFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / "inbox_alert_acknowledged.png"), full_page=True)

    assert store.is_acknowledged(alert_id=mine.alert_id, recipient=SW1)
    ledger = Ledger(redis_client, env["SIGNPOST_KEY_PREFIX"])
    assert ledger.state(mine.alert_id, SW1, "escalate") == "acknowledged"  # no escalation
    response = page.goto(f"{inbox_url}/alerts/{theirs.alert_id}")
    assert response is not None and response.status == 403
    assert "not addressed to you" in page.get_by_role("alert").inner_text()


def test_a_bad_token_is_refused_and_a_shielded_child_shows_no_contact_details(
    inbox_url: str, browser: Browser, env: dict[str, str], redis_client: redis.Redis
) -> None:
    shielded = _alert(SW1, shielded=True)
    _publish(env, shielded)
    store = InboxStore(redis_client, env["SIGNPOST_KEY_PREFIX"])
    wait_until(lambda: store.is_addressed_to(alert_id=shielded.alert_id, recipient=SW1),
               timeout_s=15)
    page = browser.new_page()
    page.goto(inbox_url)
    page.get_by_label("Your Signpost access token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    assert "not accepted" in page.get_by_role("alert").inner_text()

    _sign_in(page, inbox_url, "sw-1")
    page.get_by_role("link", name="Identity details differ between services").click()
    text = page.content()
    assert "shielded" in text and "Patel" not in text and "surgery.example" not in text
