"""The one place for the e-mail channel: a notice that an alert waits, and nothing more.

No part of the mail (subject, body, any header) carries anything of the alert: not the child
id, not the alert id, not an agency, not a name. The recipient's own work address in To: and
a link to the inbox are all it says; the alert itself is read after signing in.
"""

from __future__ import annotations

import smtplib
import uuid
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from services.notifier.retry import Attempt
from services.notifier.settings import NotifierSettings

__all__ = ["SUBJECT", "notice", "send"]

SUBJECT = "Signpost: an alert is waiting for you"
BODY = """\
An alert is waiting for you in Signpost.

Sign in to read it:
{inbox_url}

By design this e-mail says nothing about the alert. If you did not expect it, tell your
Signpost operators.
"""


def _domain(address: str) -> str:
    return address.rpartition("@")[2] or "localhost"


def notice(settings: NotifierSettings, to: str, at: datetime) -> EmailMessage:
    """The whole e-mail: fixed subject, fixed text, the inbox link; a random Message-ID."""
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = SUBJECT
    message["Date"] = format_datetime(at)
    message["Message-ID"] = f"<{uuid.uuid4().hex}@{_domain(settings.smtp_from)}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(BODY.format(inbox_url=settings.inbox_url))
    return message


def _smtp_failure(code: int) -> Attempt:
    return Attempt(ok=False, retryable=not 500 <= code < 600, label=f"SMTP {code}")


def send(settings: NotifierSettings, message: EmailMessage) -> Attempt:
    """Hand the message to the SMTP server once. 4xx and connection trouble are retryable;
    5xx (a refused address or message) is final."""
    assert settings.smtp_host is not None
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port,
                          timeout=settings.webhook_timeout_s) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                password = settings.smtp_password
                smtp.login(settings.smtp_user, password.get_secret_value() if password else "")
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        return _smtp_failure(min(codes) if codes else 550)
    except smtplib.SMTPResponseException as exc:
        return _smtp_failure(exc.smtp_code)
    except (TimeoutError, smtplib.SMTPException, OSError):
        return Attempt(ok=False, retryable=True, label="connection error")
    return Attempt(ok=True, retryable=False, label="SMTP 250")
