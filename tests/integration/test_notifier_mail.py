"""The worker's SMTP sender (mail.Mailer) against a real SMTP server (aiosmtpd): one
connection for many notices, a new one when the server dropped it, refusals as before."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from services.notifier.mail import SUBJECT, Mailer
from services.notifier.retry import Attempt
from services.notifier.settings import NotifierSettings
from signpost.embedded import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

AT = datetime(2026, 11, 22, 13, 0, tzinfo=UTC)
REFUSED = "gone@council.example"


class Sink:
    """Keeps each message with the client port it came from (one port, one connection)."""

    def __init__(self) -> None:
        self.messages: list[tuple[int, list[str], bytes]] = []

    async def handle_RCPT(self, server: object, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        if address == REFUSED:
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: object, session: Any, envelope: Any) -> str:
        self.messages.append((session.peer[1], list(envelope.rcpt_tos),
                              envelope.original_content))
        return "250 OK"

    def connections(self) -> int:
        return len({port for port, _, _ in self.messages})


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, NotifierSettings]]:
    """A server that drops a connection idle for 0.5 s, and the settings that reach it."""
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, timeout=0.5)
    controller.start()
    yield sink, NotifierSettings(smtp_host="127.0.0.1", smtp_port=port,
                                 inbox_url="https://signpost.example/inbox")
    controller.stop()


@pytest.fixture
def mailer(smtp: tuple[Sink, NotifierSettings]) -> Iterator[Mailer]:
    """A worker's sender to that server, closed after the test."""
    sender = Mailer(smtp[1])
    yield sender
    sender.close()


DELIVERED = Attempt(ok=True, retryable=False, label="SMTP 250")


def test_notices_share_one_connection_and_say_nothing_more(
    smtp: tuple[Sink, NotifierSettings], mailer: Mailer
) -> None:
    sink, settings = smtp
    to = [f"sw-{i}@council.example" for i in range(5)]
    assert [mailer.send(address, AT) for address in to] == [DELIVERED] * 5
    assert sink.connections() == 1
    assert [rcpt for _, rcpt, _ in sink.messages] == [[a] for a in to]
    ids = set()
    for (_, _, raw), address in zip(sink.messages, to, strict=True):
        message = message_from_bytes(raw)
        assert (message["To"], message["Subject"]) == (address, SUBJECT)
        assert message["From"] == settings.smtp_from
        assert b"https://signpost.example/inbox" in raw
        ids.add(message["Message-ID"])
    assert len(ids) == 5


def test_a_connection_the_server_dropped_is_replaced_within_the_attempt(
    smtp: tuple[Sink, NotifierSettings], mailer: Mailer
) -> None:
    sink, _ = smtp
    assert mailer.send("sw-1@council.example", AT) == DELIVERED
    time.sleep(1.5)  # the server closes the idle connection after 0.5 s
    assert mailer.send("sw-2@council.example", AT) == DELIVERED
    assert [rcpt for _, rcpt, _ in sink.messages] == [["sw-1@council.example"],
                                                      ["sw-2@council.example"]]
    assert sink.connections() == 2


def test_a_refused_address_is_final_and_the_next_notice_still_goes(
    smtp: tuple[Sink, NotifierSettings], mailer: Mailer
) -> None:
    sink, _ = smtp
    assert mailer.send(REFUSED, AT) == Attempt(ok=False, retryable=False, label="SMTP 550")
    assert mailer.send("sw-1@council.example", AT) == DELIVERED
    assert [rcpt for _, rcpt, _ in sink.messages] == [["sw-1@council.example"]]


def test_an_address_the_template_does_not_take_is_sent_the_email_message_way(
    smtp: tuple[Sink, NotifierSettings], mailer: Mailer
) -> None:
    sink, _ = smtp
    long_address = "a" * 70 + "@council.example"
    assert mailer.send(long_address, AT) == DELIVERED
    [(_, rcpt, raw)] = sink.messages
    assert rcpt == [long_address]
    assert message_from_bytes(raw)["To"] == long_address


def test_no_server_is_a_retryable_connection_error() -> None:
    settings = NotifierSettings(smtp_host="127.0.0.1", smtp_port=free_port(),
                                webhook_timeout_s=1.0)
    mailer = Mailer(settings)
    assert mailer.send("sw-1@council.example", AT) == Attempt(ok=False, retryable=True,
                                                              label="connection error")
    mailer.close()
