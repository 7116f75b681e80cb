"""The one loop that sleeps: delivery workers run due jobs (webhook, e-mail, escalation).

A job is claimed (hidden for SIGNPOST's lease), attempted once, then finished (COMPLETE:
delivered, failed after alerts.dlq, escalated, acknowledged, skipped) or rescheduled for
`backoff.delay(attempt)`. Nothing here blocks the Kafka loop: a dead receiver delays only its
own alerts. Infrastructure trouble (Redis, broker) is logged and the job's claim lapses, so it
is attempted again; it never goes to the DLQ.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from kafka import KafkaProducer

from schemas import Alert, AlertDlqRecord, DlqReason, Recipient
from services.notifier import mail, metrics
from services.notifier.escalation import escalate
from services.notifier.inbox import ESCALATE, InboxStore
from services.notifier.keys import Job
from services.notifier.ledger import Claimed, Ledger
from services.notifier.retry import Attempt, Backoff, Next, next_step
from services.notifier.sender import Sender
from services.notifier.settings import NotifierSettings
from services.notifier.webhook import endpoint_for, post

__all__ = ["EMAIL", "WEBHOOK", "Bell", "Deliverer"]

logger = logging.getLogger(__name__)

WEBHOOK = "webhook"
EMAIL = "email"
CLAIM_BATCH = 16  # jobs one worker claims at once: small, so others share a burst
IDLE_MAX_S = 0.25  # longest nap with nothing due: bounds how late a swapped clock is noticed
TROUBLE_PAUSE_S = 1.0  # after Redis or the broker failed, before claiming again
SEND_TIMEOUT_S = 30.0  # broker acknowledgement of a DLQ record or an escalated alert


class Bell:
    """How napping delivery workers are woken: `ring` wakes one of them (the Kafka loop rings
    once per batch it accepted; a worker that claims a full batch rings again, so a burst
    draws the others in one by one, and a single alert wakes a single worker rather than
    every worker racing to claim it); `ring_all` wakes all (shutdown). A ring while none naps
    is kept until a worker's `clear` (it is about to claim anyway) or `nap`."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._rung = False

    def ring(self) -> None:
        with self._cond:
            self._rung = True
            self._cond.notify()

    def ring_all(self) -> None:
        with self._cond:
            self._rung = True
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self._rung = False

    def nap(self, timeout_s: float) -> None:
        """Until rung, or `timeout_s` at most; at once if rung meanwhile."""
        with self._cond:
            if not self._rung:
                self._cond.wait(timeout_s)
            self._rung = False


@dataclass
class Deliverer:
    """What the workers share: settings, stores, clients, the clock and the wake-up bell."""

    settings: NotifierSettings
    ledger: Ledger
    inbox: InboxStore
    sender: Sender
    producer: KafkaProducer
    backoff: Backoff
    now: Callable[[], datetime]
    wake: Bell

    _local: threading.local = field(default_factory=threading.local, init=False, repr=False)

    def run(self, stop: threading.Event) -> None:
        """Claim and run due jobs until `stop`; nap until the next is due or a wake-up."""
        try:
            while not stop.is_set():
                self.wake.clear()
                try:
                    jobs = self.ledger.claim(now=self.now().timestamp(),
                                             lease_s=self.settings.lease_s, limit=CLAIM_BATCH)
                    if len(jobs) == CLAIM_BATCH:  # there may be more: another worker helps
                        self.wake.ring()
                    self.run_jobs(jobs)
                except Exception:
                    logger.exception("delivery worker: Redis or broker trouble; claims will "
                                     "lapse")
                    stop.wait(TROUBLE_PAUSE_S)
                    continue
                if not jobs:
                    self._close_mailer(idle_only=True)
                    self.wake.nap(self._nap())
        finally:
            self._close_mailer()

    def _nap(self) -> float:
        due = self.ledger.next_due()
        if due is None:
            return IDLE_MAX_S
        return min(IDLE_MAX_S, max(0.0, due - self.now().timestamp()))

    def run_jobs(self, jobs: list[Job]) -> None:
        """Claimed jobs, one after another (their alerts and accepted times read at once)."""
        for claimed in self.ledger.claimed(jobs):
            self._run(claimed)

    def run_job(self, job: Job) -> None:
        """One claimed job, whichever its channel."""
        self.run_jobs([job])

    def _run(self, claimed: Claimed) -> None:
        job, alert = claimed.job, claimed.alert
        recipient = _addressee(alert, job) if alert is not None else None
        if alert is None or recipient is None:
            self.ledger.complete(job, "skipped", self.now())
            return
        if job.channel == ESCALATE:
            self._escalate(job, alert, recipient)
        elif job.channel == WEBHOOK:
            self._webhook(claimed, alert, recipient)
        elif job.channel == EMAIL:
            self._email(claimed, alert, recipient)
        else:
            self.ledger.complete(job, "skipped", self.now())

    def _mailer(self) -> mail.Mailer:
        """This worker thread's SMTP sender (its connection is its own)."""
        mailer: mail.Mailer | None = getattr(self._local, "mailer", None)
        if mailer is None:
            mailer = self._local.mailer = mail.Mailer(self.settings)
        return mailer

    def _close_mailer(self, idle_only: bool = False) -> None:
        mailer: mail.Mailer | None = getattr(self._local, "mailer", None)
        if mailer is not None:
            if idle_only:
                mailer.close_if_idle()
            else:
                mailer.close()

    def _webhook(self, claimed: Claimed, alert: Alert, recipient: Recipient) -> None:
        job = claimed.job
        target = endpoint_for(recipient, self.settings)
        if target is None:  # configuration changed since the alert was accepted
            self.ledger.complete(job, "skipped", self.now())
            return
        number = self.ledger.begin_attempt(job)
        with metrics.ATTEMPT_SECONDS.labels(WEBHOOK).time():
            attempt = post(self.sender, target, alert, recipient,
                           now=lambda: self.now().timestamp())
        self._settle(claimed, alert, attempt, number)

    def _email(self, claimed: Claimed, alert: Alert, recipient: Recipient) -> None:
        job = claimed.job
        if self.settings.smtp_host is None or recipient.email is None:
            self.ledger.complete(job, "skipped", self.now())
            return
        number = self.ledger.begin_attempt(job)
        with metrics.ATTEMPT_SECONDS.labels(EMAIL).time():
            attempt = self._mailer().send(recipient.email, self.now())
        self._settle(claimed, alert, attempt, number)

    def _settle(self, claimed: Claimed, alert: Alert, attempt: Attempt, number: int) -> None:
        """After attempt `number`: delivered, a later retry, or alerts.dlq with the reason."""
        job = claimed.job
        step = next_step(attempt, number, self.settings.max_attempts)
        if step is Next.done:
            if self.ledger.complete(job, "delivered", self.now()):
                metrics.DELIVERED.labels(job.channel).inc()
                self._observe_delivery(job, claimed.accepted)
        elif step is Next.retry:
            metrics.RETRIED.labels(job.channel).inc()
            logger.info("%s alert_id=%s attempt %d: %s; retrying", job.channel, job.alert_id,
                        number, attempt.label)
            self.ledger.retry(job, self.now().timestamp() + self.backoff.delay(number - 1))
        else:
            self._dead_letter(job, alert, attempt, number)

    def _observe_delivery(self, job: Job, accepted: str | None) -> None:
        if accepted:
            seconds = max(0.0, self.now().timestamp() - float(accepted))
            metrics.DELIVERY_SECONDS.labels(job.channel).observe(seconds)

    def _dead_letter(self, job: Job, alert: Alert, attempt: Attempt, number: int) -> None:
        """Park the alert for this recipient and channel in alerts.dlq, then finish the job.

        The record is acknowledged by the broker first: a crash in between sends it twice
        (keyed by alert id), never loses it.
        """
        detail = f"{attempt.label} after {number} attempt" + ("" if number == 1 else "s")
        record = AlertDlqRecord(
            reason=DlqReason.undeliverable, detail=detail, alert_id=job.alert_id,
            recipient_id=job.id, channel=job.channel, attempts=number,
            alert=alert.model_dump(mode="json"), failed_at=self.now())
        self.producer.send(self.settings.topics.alerts_dlq, value=record.model_dump_json()
                           .encode(), key=job.alert_id.encode()).get(timeout=SEND_TIMEOUT_S)
        if self.ledger.complete(job, "failed", self.now()):
            metrics.FAILED.labels(job.channel).inc()
        logger.warning("%s alert_id=%s undeliverable: %s", job.channel, job.alert_id, detail)

    def _escalate(self, job: Job, alert: Alert, recipient: Recipient) -> None:
        """Escalate an alert its recipient has not acknowledged: a new alert on `alerts`."""
        if self.inbox.is_acknowledged(alert_id=alert.alert_id, recipient=recipient):
            self.ledger.complete(job, "acknowledged", self.now())
            return
        escalated = escalate(alert, recipient, self.now())
        self.producer.send(self.settings.topics.alerts, value=escalated.model_dump_json()
                           .encode(), key=alert.child_id.encode()).get(timeout=SEND_TIMEOUT_S)
        if self.ledger.complete(job, "escalated", self.now()):
            metrics.ESCALATED.inc()
            logger.info("escalated alert_id=%s as %s", alert.alert_id, escalated.alert_id)


def _addressee(alert: Alert, job: Job) -> Recipient | None:
    """The recipient of the job as the alert names it (with its routing data)."""
    return next((r for r in alert.recipients if (r.kind, r.id) == (job.kind, job.id)), None)
