"""The one place audit records are sealed into the hash chain and appended to `audit.log`.

Every process that reads personal data or changes state appends through `AuditLog.record`.
One chain serves them all: Redis holds its head (`<seq>:<hash>`) and a compare-and-set script
moves it, so two writers never chain from the same record; Kafka holds the records, durably
(the call returns only after the broker's acknowledgement). `record` raises `AuditError` when
it cannot write: callers refuse the access (fail closed), never serve it unaudited.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from schemas.audit import GENESIS_HASH, AuditAction, AuditOutcome, AuditRecord
from signpost.errors import SignpostError
from signpost.kafka import close_consumer
from signpost.settings import CommonSettings

__all__ = [
    "AuditError",
    "AuditLog",
    "StoredRecord",
    "build_audit_log",
    "canonical",
    "head_key",
    "read_audit_topic",
    "read_head",
    "record_hash",
    "seal",
]

logger = logging.getLogger(__name__)

CAS_ATTEMPTS = 100  # writers racing for the head; each loss costs one GET and one script call
CAS_BACKOFF_S = 0.002
SEND_TIMEOUT_S = 10.0  # an audit write the broker has not acknowledged in 10 s has failed
CHAIN_KEY = b"audit"  # one message key: every record on one partition, in append order
READ_POLL_MS = 300
READ_IDLE_S = 30.0  # no message for this long while behind the end: the broker is down

# Move the head of the chain, and keep the sealed record until Kafka has it.
# KEYS[1]: the head, "<seq>:<hash hex>" (absent before the first record)
# KEYS[2]: hash of sealed records not yet acknowledged by Kafka, field = seq
# ARGV[1]: the head the caller chained from ("" when there was none)
# ARGV[2]: the new head "<seq>:<hash hex>"
# ARGV[3]: the new record's seq;  ARGV[4]: the new record's JSON
# returns: 1 when the head was ARGV[1] and is now ARGV[2]; else the current head ("" if none)
APPEND_LUA = """
local head = redis.call('GET', KEYS[1]) or ''
if head ~= ARGV[1] then return head end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
return 1
"""


class AuditError(SignpostError):
    """An audit record could not be written: the access it records must not happen."""


def head_key(prefix: str) -> str:
    """The chain's head; one hash tag for every audit key (Redis Cluster)."""
    return f"{prefix}:{{audit}}:head"


def pending_key(prefix: str) -> str:
    return f"{prefix}:{{audit}}:pending"


def canonical(fields: dict[str, Any]) -> bytes:
    """The bytes a record's hash is taken over: sorted keys, no spaces, UTF-8."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(fields: dict[str, Any]) -> str:
    """SHA-256 hex over the canonical JSON of every field except `hash`."""
    return hashlib.sha256(canonical({k: v for k, v in fields.items() if k != "hash"})).hexdigest()


def seal(fields: dict[str, Any], seq: int, prev_hash: str) -> AuditRecord:
    """A record at `seq` chained to `prev_hash`, with its own hash."""
    unsealed = AuditRecord.model_validate({**fields, "seq": seq, "prev_hash": prev_hash,
                                           "hash": GENESIS_HASH}).model_dump(mode="json")
    return AuditRecord.model_validate({**unsealed, "hash": record_hash(unsealed)})


def _parse_head(head: str) -> tuple[int, str]:
    if not head:
        return 0, GENESIS_HASH
    seq, _, digest = head.partition(":")
    return int(seq), digest


def read_head(r: redis.Redis, prefix: str) -> tuple[int, str]:
    """(seq, hash) of the chain's last sealed record; (0, genesis) before the first."""
    return _parse_head(str(r.get(head_key(prefix)) or ""))


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AuditLog:
    """Appends to the one audit chain; safe to share between threads and processes."""

    def __init__(self, r: redis.Redis, producer: KafkaProducer, topic: str, prefix: str,
                 service: str, now: Callable[[], datetime] = _utc_now) -> None:
        self._r = r
        self._producer = producer
        self._topic = topic
        self._keys = [head_key(prefix), pending_key(prefix)]
        self._service = service
        self._now = now
        self._append = r.register_script(APPEND_LUA)

    def record(self, *, actor: str, role: str, action: AuditAction,
               outcome: AuditOutcome = AuditOutcome.allowed, child_id: str | None = None,
               purpose: str | None = None, relationship: bool | None = None,
               grant_id: str | None = None, target: str | None = None,
               count: int | None = None) -> AuditRecord:
        """Seal one record onto the chain and wait until Kafka has it; AuditError if not."""
        fields = {"at": self._now(), "service": self._service, "actor": actor, "role": role,
                  "action": action, "outcome": outcome, "child_id": child_id,
                  "purpose": purpose, "relationship": relationship, "grant_id": grant_id,
                  "target": target, "count": count}
        try:
            sealed = self._chain(fields)
            self._send(sealed.seq, _value(sealed))
        except (redis.RedisError, OSError) as exc:
            raise AuditError(f"audit record not written ({type(exc).__name__})") from exc
        return sealed

    def _chain(self, fields: dict[str, Any]) -> AuditRecord:
        """Seal against the current head and move the head; retry when another writer won."""
        head = self._r.get(self._keys[0]) or ""
        for _ in range(CAS_ATTEMPTS):
            seq, prev = _parse_head(str(head))
            sealed = seal(fields, seq + 1, prev)
            won = self._append(keys=self._keys,
                               args=[head, f"{sealed.seq}:{sealed.hash}", sealed.seq,
                                     _value(sealed)])
            if won == 1:
                return sealed
            head = won
            time.sleep(CAS_BACKOFF_S)
        raise AuditError("audit head contended: too many concurrent writers")

    def _send(self, seq: int, value: bytes) -> None:
        """Produce and wait for the acknowledgement, then forget the pending copy."""
        try:
            self._producer.send(self._topic, value=value, key=CHAIN_KEY).get(
                timeout=SEND_TIMEOUT_S)
        except Exception as exc:  # kafka-python raises its own KafkaError tree and timeouts
            raise AuditError(f"audit record seq {seq} not acknowledged by Kafka") from exc
        self._r.hdel(self._keys[1], str(seq))

    def resend_pending(self) -> int:
        """Send sealed records a crashed writer left unacknowledged; duplicates are harmless."""
        pending = self._r.hgetall(self._keys[1])
        for seq, value in sorted(pending.items(), key=lambda kv: int(kv[0])):
            self._send(int(seq), str(value).encode())
        return len(pending)


def _value(record: AuditRecord) -> bytes:
    return canonical(record.model_dump(mode="json"))


def build_audit_log(settings: CommonSettings, r: redis.Redis, producer: KafkaProducer,
                    service: str) -> AuditLog:
    """The service's audit log on `audit.log`; re-sends what a crash left pending."""
    log = AuditLog(r, producer, settings.topics.audit, settings.key_prefix, service)
    resent = log.resend_pending()
    if resent:
        logger.warning("audit: re-sent %d records a previous writer left unacknowledged", resent)
    return log


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One message of `audit.log` as read: where it is, and its bytes."""

    partition: int
    offset: int
    value: bytes


def read_audit_topic(bootstrap: str, topic: str, *,
                     security: Mapping[str, Any] | None = None) -> Iterator[StoredRecord]:
    """Every message on the topic from its start to its end as of now (then stops).

    `security` is kafka-python's SASL/SSL options (`signpost.kafka.security_options`).
    Raises AuditError if the topic is missing or the broker sends nothing for READ_IDLE_S.
    """
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             enable_auto_commit=False, **(security or {}))
    try:
        partitions = [TopicPartition(topic, p)
                      for p in sorted(consumer.partitions_for_topic(topic))]
        if not partitions:
            raise AuditError(f"topic {topic} does not exist")
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        yield from _read_until(consumer, end)
    finally:
        close_consumer(consumer)


def _read_until(consumer: KafkaConsumer, end: dict[TopicPartition, int]) -> Iterator[StoredRecord]:
    """Poll until every partition's position reaches `end` and a poll brings nothing more.

    The extra empty poll is deliberate: some Kafka-protocol brokers (Tansu) report the end of
    a partition as the start of its last batch, so the reported end alone can stop short.
    """
    idle_deadline = time.monotonic() + READ_IDLE_S
    while True:
        batches = consumer.poll(timeout_ms=READ_POLL_MS)
        for batch in batches.values():
            yield from (StoredRecord(r.partition, r.offset, r.value or b"") for r in batch)
        if batches:
            idle_deadline = time.monotonic() + READ_IDLE_S
        elif all(consumer.position(tp) >= offset for tp, offset in end.items()):
            return
        elif time.monotonic() > idle_deadline:
            raise AuditError(f"audit topic read stalled for {READ_IDLE_S} s")
