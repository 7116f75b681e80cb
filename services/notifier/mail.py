"""The one place for the e-mail channel: a notice that an alert waits, and nothing more.

No part of the mail (subject, body, any header) carries anything of the alert: not the child
id, not the alert id, not an agency, not a name. The recipient's own work address in To: and
a link to the inbox are all it says; the alert itself is read after signing in.

Every notice is the same but for To:, Date: and Message-ID:, so the worker renders it once
(`NoticeTemplate`) and fills in those three; a `Mailer` keeps one worker's SMTP connection
open between notices instead of connecting, greeting and logging in for each.
"""

from __future__ import annotations

import io
import re
import smtplib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from functools import lru_cache

from services.notifier.retry import Attempt
from services.notifier.settings import NotifierSettings

__all__ = ["SUBJECT", "Mailer", "NoticeTemplate", "notice", "send"]

SUBJECT = "Signpost: an alert is waiting for you"
BODY = """\
An alert is waiting for you in Signpost.

Sign in to read it:
{inbox_url}

By design this e-mail says nothing about the alert. If you did not expect it, tell your
Signpost operators.
"""
_DOT_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
#: An address the template takes as it is: ASCII dot-atoms either side of the @ (the e-mail
#: header writes those unchanged), short enough that "To: " + address is never folded.
#: Anything else is written the EmailMessage way.
PLAIN_ADDRESS = re.compile(f"{_DOT_ATOM}@{_DOT_ATOM}")
PLAIN_ADDRESS_MAX = 70
REUSE_IDLE_S = 5.0  # a connection idle longer than this is closed, not reused
MESSAGES_PER_CONNECTION = 20  # then a fresh one: servers limit messages per session


def _domain(address: str) -> str:
    return address.rpartition("@")[2] or "localhost"


def _message(smtp_from: str, inbox_url: str, to: str, at: datetime,
             message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = smtp_from
    message["To"] = to
    message["Subject"] = SUBJECT
    message["Date"] = format_datetime(at)
    message["Message-ID"] = f"<{message_id}@{_domain(smtp_from)}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(BODY.format(inbox_url=inbox_url))
    return message


def notice(settings: NotifierSettings, to: str, at: datetime) -> EmailMessage:
    """The whole e-mail: fixed subject, fixed text, the inbox link; a random Message-ID."""
    return _message(settings.smtp_from, settings.inbox_url, to, at, uuid.uuid4().hex)


def _wire(message: EmailMessage) -> bytes:
    """The message as smtplib's send_message puts it on the wire (CRLF line ends)."""
    with io.BytesIO() as out:
        BytesGenerator(out).flatten(message, linesep="\r\n")
        return out.getvalue()


# Stand-ins rendered into the template, then replaced: same length and shape as the real
# values, so the rendering (folding, encoding) is the same.
_TO = "to@placeholder.invalid"
_AT = datetime(2000, 1, 1, tzinfo=UTC)
_ID = "f" * 32


@dataclass(frozen=True, slots=True)
class NoticeTemplate:
    """The notice rendered once for one From: and inbox link: the bytes around To:, Date: and
    the Message-ID's random part, and the envelope sender. None from `of` when the From:
    needs more than ASCII (send_message then asks for SMTPUTF8)."""

    parts: tuple[bytes, bytes, bytes, bytes]
    sender: str

    @staticmethod
    @lru_cache(maxsize=16)
    def of(smtp_from: str, inbox_url: str) -> NoticeTemplate | None:
        raw = _wire(_message(smtp_from, inbox_url, _TO, _AT, _ID))
        marks = [f"To: {_TO}\r\n".encode(), f"Date: {format_datetime(_AT)}\r\n".encode(),
                 f"<{_ID}@".encode()]
        senders = [a for _, a in getaddresses([smtp_from])]
        if (any(raw.count(mark) != 1 for mark in marks) or len(senders) != 1
                or not senders[0].isascii()):
            return None
        head, _, rest = raw.partition(marks[0])
        middle, _, tail = rest.partition(marks[1])
        before_id, _, end = tail.partition(marks[2])
        return NoticeTemplate((head, middle, before_id, end), senders[0])

    def render(self, to: str, at: datetime, message_id: str) -> bytes:
        """The notice to `to` (a PLAIN_ADDRESS), byte for byte what notice() would send."""
        head, middle, before_id, end = self.parts
        return b"".join((head, b"To: ", to.encode(), b"\r\n", middle, b"Date: ",
                         format_datetime(at).encode(), b"\r\n", before_id, b"<",
                         message_id.encode(), b"@", end))


def _plain(address: str) -> bool:
    return len(address) <= PLAIN_ADDRESS_MAX and PLAIN_ADDRESS.fullmatch(address) is not None


def _smtp_failure(code: int) -> Attempt:
    return Attempt(ok=False, retryable=not 500 <= code < 600, label=f"SMTP {code}")


def _outcome(deliver: Callable[[], object]) -> Attempt:
    """Run one hand-over; 4xx and connection trouble are retryable, 5xx is final."""
    try:
        deliver()
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        return _smtp_failure(min(codes) if codes else 550)
    except smtplib.SMTPResponseException as exc:
        return _smtp_failure(exc.smtp_code)
    except (TimeoutError, smtplib.SMTPException, OSError):
        return Attempt(ok=False, retryable=True, label="connection error")
    return Attempt(ok=True, retryable=False, label="SMTP 250")


def _connect(settings: NotifierSettings) -> smtplib.SMTP:
    assert settings.smtp_host is not None
    smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port,
                        timeout=settings.webhook_timeout_s)
    try:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_user:
            password = settings.smtp_password
            smtp.login(settings.smtp_user, password.get_secret_value() if password else "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def send(settings: NotifierSettings, message: EmailMessage) -> Attempt:
    """Hand the message to the SMTP server once, on a connection of its own. 4xx and
    connection trouble are retryable; 5xx (a refused address or message) is final."""

    def deliver() -> None:
        with _connect(settings) as smtp:
            smtp.send_message(message)

    return _outcome(deliver)


class Mailer:
    """One delivery worker's SMTP sender: the notice from its template, on a connection kept
    open between notices (not shared between threads).

    A kept connection is used again while it is fresh (REUSE_IDLE_S, MESSAGES_PER_CONNECTION).
    If the server closed it meanwhile (disconnected, or 421 to MAIL FROM), the notice is
    handed over once more on a new connection within the same attempt; any other failure
    closes it, and the attempt ends as send() would end it.
    """

    def __init__(self, settings: NotifierSettings,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self._smtp: smtplib.SMTP | None = None
        self._sent = 0
        self._last = 0.0

    def send(self, to: str, at: datetime) -> Attempt:
        """The notice to `to` for time `at`, handed to the SMTP server once."""
        template = NoticeTemplate.of(self.settings.smtp_from, self.settings.inbox_url)
        if template is None or not _plain(to):
            return send(self.settings, notice(self.settings, to, at))
        data = template.render(to, at, uuid.uuid4().hex)
        attempt = _outcome(lambda: self._hand_over(template.sender, to, data))
        if not attempt.ok:
            self.close()
        return attempt

    def _hand_over(self, sender: str, to: str, data: bytes) -> None:
        smtp, reused = self._connection()
        try:
            smtp.sendmail(sender, [to], data)
        except (smtplib.SMTPServerDisconnected, ConnectionError, smtplib.SMTPSenderRefused) as exc:
            closing = not isinstance(exc, smtplib.SMTPSenderRefused) or exc.smtp_code == 421
            if not (reused and closing):
                raise
            self.close()  # the server dropped the kept connection: once more, on a new one
            smtp, _ = self._connection()
            smtp.sendmail(sender, [to], data)
        self._sent += 1
        self._last = self.clock()

    def _connection(self) -> tuple[smtplib.SMTP, bool]:
        fresh = (self.clock() - self._last <= REUSE_IDLE_S
                 and self._sent < MESSAGES_PER_CONNECTION)
        if self._smtp is not None and fresh:
            return self._smtp, True
        self.close()
        self._smtp = _connect(self.settings)
        self._sent = 0
        return self._smtp, False

    def close_if_idle(self) -> None:
        """Close the connection if it is too old to be used again (the worker naps)."""
        if self._smtp is not None and self.clock() - self._last > REUSE_IDLE_S:
            self.close()

    def close(self) -> None:
        """Say goodbye and drop the connection (nothing if there is none)."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
