"""The e-mail notice rendered once (NoticeTemplate) is byte for byte what notice() writes, and
only plain addresses take that way."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta, timezone
from email.generator import BytesGenerator

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.notifier import mail
from services.notifier.settings import NotifierSettings

AT = datetime(2026, 11, 22, 13, 9, 10, 123456, tzinfo=UTC)
ATEXT = "abcXYZ019!#$%&'*+/=?^_`{|}~-"
FROMS = ["signpost@localhost", "Signpost <signpost@notices.example>",
         "Signpost Ämter <signpost@notices.example>", '"Sign, post" <s@x.example>']
URLS = ["http://127.0.0.1:8082/inbox", "https://signpost.example/" + "inbox/" * 20]


def _wire(settings: NotifierSettings, to: str, at: datetime) -> tuple[bytes, str]:
    """notice() as send_message puts it on the wire, and its Message-ID's random part."""
    message = mail.notice(settings, to, at)
    with io.BytesIO() as out:  # as smtplib's send_message writes it
        BytesGenerator(out).flatten(message, linesep="\r\n")
        raw = out.getvalue()
    found = re.search(rb"Message-ID: <([0-9a-f]{32})@", raw)
    assert found is not None
    return raw, found.group(1).decode()


def _template(settings: NotifierSettings) -> mail.NoticeTemplate:
    template = mail.NoticeTemplate.of(settings.smtp_from, settings.inbox_url)
    assert template is not None
    return template


@pytest.mark.parametrize("smtp_from", FROMS)
@pytest.mark.parametrize("inbox_url", URLS)
@pytest.mark.parametrize("at", [AT, datetime(2026, 1, 2, 3, 4, 5,
                                             tzinfo=timezone(timedelta(hours=-5)))])
def test_the_template_writes_what_notice_writes(smtp_from: str, inbox_url: str,
                                                at: datetime) -> None:
    settings = NotifierSettings(smtp_host="127.0.0.1", smtp_from=smtp_from, inbox_url=inbox_url)
    for to in ("sw-1@council.example", "o'brien+x@social_care-3.example", "a.b.c@d"):
        raw, message_id = _wire(settings, to, at)
        assert _template(settings).render(to, at, message_id) == raw


dot_atom = st.lists(st.text(ATEXT, min_size=1, max_size=12), min_size=1, max_size=3).map(".".join)


@settings(max_examples=200, deadline=None)
@given(local=dot_atom, domain=dot_atom)
def test_any_plain_address_is_written_as_notice_writes_it(local: str, domain: str) -> None:
    to = f"{local}@{domain}"[:mail.PLAIN_ADDRESS_MAX].rstrip(".")  # as long as it may be
    assume("@" in to and not to.endswith("@"))
    settings = NotifierSettings(smtp_host="127.0.0.1")
    raw, message_id = _wire(settings, to, AT)
    assert mail._plain(to)
    assert _template(settings).render(to, AT, message_id) == raw


@pytest.mark.parametrize("to", ["ä@council.example", "a..b@council.example", ".a@council.example",
                                "Ann <a@council.example>", "a@council.example\r\nBcc: x@y",
                                "a" * 60 + "@council.example"])
def test_anything_else_is_left_to_email_message(to: str) -> None:
    assert not mail._plain(to)


def test_a_from_that_is_not_ascii_has_no_template() -> None:
    assert mail.NoticeTemplate.of("Ä <ä@notices.example>", URLS[0]) is None
