"""The audit log on the real broker and Redis: concurrent writers share one chain; a tampered
copy of the topic is named by `signpost audit verify`; writes fail closed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
import redis
from kafka import KafkaProducer
from redis.backoff import NoBackoff
from redis.retry import Retry
from typer.testing import CliRunner

from schemas.audit import AuditAction, AuditRecord
from signpost.audit import (
    AuditError,
    AuditLog,
    build_audit_log,
    head_key,
    read_audit_topic,
    read_head,
    record_hash,
)
from signpost.audit_verify import verify_chain
from signpost.cli import app
from signpost.kafka import ensure_topics, make_producer
from signpost.redis import make_redis
from signpost.settings import CommonSettings

pytestmark = pytest.mark.integration

WRITERS = 4
PER_WRITER = 15


@pytest.fixture
def parts(common: CommonSettings) -> Iterator[tuple[redis.Redis, KafkaProducer]]:
    ensure_topics(common, [common.topics.audit])
    r, producer = make_redis(common), make_producer(common)
    yield r, producer
    producer.close()
    r.close()


def _write(log: AuditLog, n: int, actor: str) -> None:
    for i in range(n):
        log.record(actor=actor, role="professional", action=AuditAction.inbox_read,
                   child_id=f"c-{i}", relationship=True)


def test_concurrent_writers_make_one_intact_chain(common: CommonSettings) -> None:
    ensure_topics(common, [common.topics.audit])
    logs = [AuditLog(make_redis(common), make_producer(common), common.topics.audit,
                     common.key_prefix, f"writer-{w}") for w in range(WRITERS)]
    threads = [threading.Thread(target=_write, args=(log, PER_WRITER, f"sw-{w}"))
               for w, log in enumerate(logs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    head = read_head(make_redis(common), common.key_prefix)
    verdict = verify_chain(read_audit_topic(common.kafka_bootstrap, common.topics.audit), head)
    assert verdict.ok, verdict.first_break
    assert verdict.records == head[0] == WRITERS * PER_WRITER


def _forge_copy(common: CommonSettings, producer: KafkaProducer, topic: str, seq: int) -> None:
    """Copy the audit topic to `topic`, with record `seq` altered by hand (hash recomputed)."""
    for stored in read_audit_topic(common.kafka_bootstrap, common.topics.audit):
        fields = json.loads(stored.value)
        if fields["seq"] == seq:
            fields["child_id"] = "c-someone-else"
            fields["hash"] = record_hash(fields)
        producer.send(topic, json.dumps(fields).encode(), key=b"audit").get(timeout=10)


def test_verify_names_the_tampered_record_of_a_forged_copy(
        common: CommonSettings, parts: tuple[redis.Redis, KafkaProducer],
        env: dict[str, str]) -> None:
    r, producer = parts
    _write(build_audit_log(common, r, producer, "test"), 8, "sw-1")
    runner = CliRunner()
    intact = runner.invoke(app, ["audit", "verify"], env=env)
    assert intact.exit_code == 0, intact.output
    assert "intact" in intact.output and "8 records" in intact.output
    forged = f"{common.topic_prefix}audit.forged"
    ensure_topics(common, [forged])
    _forge_copy(common, producer, forged, seq=5)
    result = runner.invoke(app, ["audit", "verify", "--topic", forged], env=env)
    assert result.exit_code == 1, result.output
    assert "BROKEN" in result.output and "seq 5 (partition" in result.output


def test_a_crashed_writers_pending_record_is_resent(
        common: CommonSettings, parts: tuple[redis.Redis, KafkaProducer]) -> None:
    r, producer = parts

    class LostProducer:
        """Kafka accepts nothing: the record is sealed in Redis but never acknowledged."""

        def send(self, *args: object, **kwargs: object) -> object:
            raise ConnectionError("broker gone")

    log = build_audit_log(common, r, producer, "test")
    _write(log, 2, "sw-1")
    lost = AuditLog(r, LostProducer(), common.topics.audit, common.key_prefix, "test")
    with pytest.raises(AuditError):
        _write(lost, 1, "sw-2")
    assert read_head(r, common.key_prefix)[0] == 3
    assert not verify_chain(read_audit_topic(common.kafka_bootstrap, common.topics.audit),
                            read_head(r, common.key_prefix)).ok
    build_audit_log(common, r, producer, "restarted")  # re-sends what was pending
    verdict = verify_chain(read_audit_topic(common.kafka_bootstrap, common.topics.audit),
                           read_head(r, common.key_prefix))
    assert verdict.ok and verdict.records == 3


def test_redis_down_fails_closed(common: CommonSettings,
                                 parts: tuple[redis.Redis, KafkaProducer]) -> None:
    _, producer = parts
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2,
                       retry=Retry(NoBackoff(), 0))
    with pytest.raises(AuditError):
        _write(AuditLog(dead, producer, common.topics.audit, common.key_prefix, "test"), 1, "x")


def test_records_carry_who_what_when_and_why(common: CommonSettings,
                                             parts: tuple[redis.Redis, KafkaProducer]) -> None:
    r, producer = parts
    log = build_audit_log(common, r, producer, "test")
    log.record(actor="op-1", role="operator", action=AuditAction.threshold_change,
               target="upper_threshold")
    log.record(actor="retention", role="service", action=AuditAction.purge, count=17)
    (first, second) = [AuditRecord.model_validate_json(s.value) for s in
                       read_audit_topic(common.kafka_bootstrap, common.topics.audit)]
    assert (first.actor, first.action, first.target) == ("op-1", "threshold_change",
                                                         "upper_threshold")
    assert (second.count, second.prev_hash) == (17, first.hash)
    assert r.get(head_key(common.key_prefix)) == f"2:{second.hash}"
