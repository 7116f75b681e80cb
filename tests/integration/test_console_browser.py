"""The operators' console in a real headless browser (Debian's chromium, driven by Playwright):
sign in, open the review queue, accept one item, change a threshold, see the dashboard move.
Screenshots are kept in tests/artefacts/.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from playwright.sync_api import Browser, Page

from services.matcher.review import ReviewStore
from services.matcher.service import main
from services.matcher.settings import MatcherSettings
from services.matcher.thresholds import ThresholdStore
from signpost.auth import Role, issue_token
from signpost.embedded import free_port
from signpost.kafka import ensure_topics
from tests.support.browser import ARTEFACTS, CHROMIUM, chromium
from tests.support.events import make_event
from tests.support.sealed import publish_sealed
from tests.support.wait import wait_until

TOKEN_SECRET = "console-token-secret"
VARIANT = {"given": "Vicky", "agency_id": "gp-7", "agency_kind": "gp", "practitioner": "gp-9"}

pytestmark = [
    pytest.mark.integration, pytest.mark.timeout(60),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed"),
]


@pytest.fixture
def console(env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
            redis_client: redis.Redis) -> Iterator[tuple[str, MatcherSettings]]:
    """A running matcher with its console; thresholds that send the variant to review."""
    port = free_port()
    for key, value in (env | {"SIGNPOST_TOKEN_SECRET": TOKEN_SECRET,
                              "SIGNPOST_MATCHER_HTTP_PORT": str(port)}).items():
        monkeypatch.setenv(key, value)
    settings = MatcherSettings()
    ensure_topics(settings)
    ThresholdStore(redis_client, settings.key_prefix, (8.0, 2.0)).set(
        upper=60, lower=10, actor="setup", reason="send the variant to review")
    stop = threading.Event()
    thread = threading.Thread(target=main, args=(settings, stop), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/console", settings
    stop.set()
    thread.join(timeout=15)


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _send(settings: MatcherSettings, *events: dict[str, Any]) -> None:
    publish_sealed(settings, events)


def _figure(page: Page, name: str) -> str:
    return page.locator(f'[data-figure="{name}"]').inner_text()


def _shot(page: Page, name: str) -> None:
    ARTEFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"console_{name}.png"), full_page=True)


def test_operator_works_the_console_end_to_end(
    console: tuple[str, MatcherSettings], browser: Browser, redis_client: redis.Redis
) -> None:
    url, settings = console
    _send(settings, make_event(), make_event(**VARIANT))
    reviews = ReviewStore(redis_client, settings.key_prefix)
    wait_until(lambda: reviews.counts()["open"] == 1, timeout_s=20)
    page = browser.new_page()
    page.goto(url)
    assert page.url.endswith("/console/sign-in"), page.content()[:2000]
    page.get_by_label("Your Signpost access token").fill(
        issue_token(TOKEN_SECRET, "op-1", Role.operator))
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Dashboard"
    assert _figure(page, "open") == "1" and _figure(page, "decided") == "0"
    events_before = int(_figure(page, "events"))
    _shot(page, "dashboard_before")

    page.get_by_role("link", name="Review queue").click()
    assert "vicky" not in page.content().lower()  # masked until opened
    page.locator("main tbody a").first.click()
    page.get_by_role("link", name="Show the records side by side").click()
    assert "vicky" in page.content().lower()
    _shot(page, "review_item")
    page.get_by_role("button", name="Accept: the same child").click()
    assert "accepted by op-1" in page.get_by_role("status").inner_text()

    page.get_by_role("link", name="Thresholds").click()
    assert "precision" in page.locator("#preview").inner_text()
    page.get_by_label("Upper threshold").fill("20")
    page.get_by_label("Lower threshold").fill("10")
    page.get_by_label("Reason (kept in the audit log)").fill("evidence from reviews")
    page.get_by_role("button", name="Set thresholds").click()
    assert "version 2" in page.get_by_role("status").inner_text()
    chart = page.locator("main img")
    wait_until(lambda: chart.evaluate("img => img.naturalWidth") > 100, timeout_s=10)
    _shot(page, "thresholds")

    _send(settings, make_event(**VARIANT), make_event(given="Kwame", family="Mensah",
                                                      dob="2012-01-09", sex="M"))

    def moved() -> bool:
        page.get_by_role("link", name="Dashboard").click()
        return int(_figure(page, "events")) >= events_before + 2

    wait_until(moved, timeout_s=20, interval_s=0.5)
    assert _figure(page, "decided") == "1" and _figure(page, "open") == "0"
    assert settings.matcher_group in page.get_by_role("table").inner_text()  # lag per group
    _shot(page, "dashboard_after")
