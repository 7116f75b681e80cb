"""`signpost rebuild`: the matcher's Redis entity store and index, made again from the event
log on `contact.events`.

Redis is a view: everything the matcher keeps there (records, blocking index, children,
merges, stored results) follows from the events on `contact.events`, in order. The rebuild
reads that topic from its beginning with a fresh consumer in no group (it commits nothing and
disturbs no service), passes the records, BATCH at a time, through the service's own
`services.matcher.service.handle_batch` — so the message format, opening sealed events and
the engine are exactly the service's (a batch decides as one at a time) — into a fresh key
prefix, and reports what it made. The links and alerts it returns are not sent: they went out
when the events were first matched.

Order: partitions are merged by record timestamp, so events are matched in about the order
they arrived. Online clustering depends on order: over one partition the rebuild gives
exactly the live children; over several, records that share a millisecond were taken in an
order the log does not keep, so a few borderline children can differ, as between two live
runs.

What is not in the log, and so not rebuilt: operators' decisions (accepted or rejected
reviews, splits) and thresholds changed since start-up; the thresholds in force now are copied.
The key store (data keys, a Redis of its own in production) is not a view: it is read, never
rebuilt, and must be kept safe (backed up; see README).

After Redis lost the store: stop the matchers, `signpost rebuild` (in place, into
SIGNPOST_KEY_PREFIX, whose matcher keys must be empty), start the matchers; their group's
committed offsets are where the rebuild's reading ended. `--prefix` builds beside the live
store instead, to compare; the data keys are always read from SIGNPOST_KEY_PREFIX's key store
(the key store shares that prefix today, so a matcher cannot simply be pointed at another).
"""

from __future__ import annotations

import heapq
import json
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # the heavy imports wait for the command to run: `signpost` starts fast
    import redis
    from kafka import KafkaConsumer

    from services.matcher.settings import MatcherSettings
    from signpost.kafka import ConsumerRecord, Outgoing, TopicPartition

__all__ = ["RebuildReport", "ordered_records", "rebuild", "register"]

BATCH = 200  # records decided together, as a matcher's poll batch (max_poll_records)
IDLE_S = 3.0  # the log is read to its end when no partition has given a record for this long
POLL_MS = 200
MAX_BUFFERED = 20_000  # records held per partition while waiting for the others (bounded)


@dataclass
class RebuildReport:
    prefix: str
    records: int = 0  # read from contact.events (repeats of an event included)
    events: int = 0  # distinct events decided
    dead_lettered: int = 0  # records sent to the DLQ (they were the first time too)
    skipped: int = 0  # records with nothing to do (e.g. their record's data key is deleted)
    children: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    read_to: dict[str, int] = field(default_factory=dict)  # partition -> next offset


def ordered_records(consumer: KafkaConsumer, partitions: list[TopicPartition],
                    idle_s: float = IDLE_S) -> Iterator[ConsumerRecord]:
    """Every record of the assigned partitions, merged by timestamp (then partition, offset):
    a record is released once every partition still being read has one buffered to compare
    with, or the log has been quiet for `idle_s`. Reading ends after `idle_s` without records.
    End offsets are not trusted (the embedded broker's can be short), only quiet."""
    buffers: dict[TopicPartition, deque[ConsumerRecord]] = {tp: deque() for tp in partitions}
    paused: set[TopicPartition] = set()
    quiet_since = time.monotonic()
    while True:
        got = consumer.poll(timeout_ms=POLL_MS)
        now = time.monotonic()
        for tp, records in got.items():
            buffers[tp].extend(records)
        if any(got.values()):
            quiet_since = now
        quiet = now - quiet_since >= idle_s
        heap = [(b[0].timestamp, tp.partition, b[0].offset, tp)
                for tp, b in buffers.items() if b]
        heapq.heapify(heap)
        while heap and (quiet or all(buffers.values())):
            _, _, _, tp = heapq.heappop(heap)
            yield buffers[tp].popleft()
            if buffers[tp]:
                nxt = buffers[tp][0]
                heapq.heappush(heap, (nxt.timestamp, tp.partition, nxt.offset, tp))
        _pause_full(consumer, buffers, paused)
        if quiet and not any(buffers.values()):
            return


def _pause_full(consumer: KafkaConsumer, buffers: dict[TopicPartition, deque[ConsumerRecord]],
                paused: set[TopicPartition]) -> None:
    """Stop fetching a partition far ahead of the others; resume it once it has drained."""
    full = {tp for tp, b in buffers.items() if len(b) >= MAX_BUFFERED}
    if full - paused:
        consumer.pause(*(full - paused))
    drained = {tp for tp in paused if len(buffers[tp]) < MAX_BUFFERED // 2}
    if drained:
        consumer.resume(*drained)
    paused -= drained
    paused |= full


def rebuild(settings: MatcherSettings, prefix: str, out: Path | None = None,
            idle_s: float = IDLE_S, tick: Callable[[], None] = lambda: None) -> RebuildReport:
    """Rebuild into Redis key prefix `prefix` (which should be empty) from `contact.events`.

    `out`: also write {"event_id", "child_id"} per event (child after any later merge), as
    `signpost match-file` does.
    """
    from services.matcher.keys import Keys
    from services.matcher.service import build_engine, handle_batch  # the service's own path
    from signpost.crypto import keystore_for
    from signpost.errors import ConfigError
    from signpost.kafka import close_consumer, make_reader

    started = time.monotonic()
    target = settings.model_copy(update={"key_prefix": prefix})
    engine = build_engine(target, shared=False)  # a prefix nobody else writes meanwhile
    if engine.index.r.exists(Keys(prefix).seq):
        raise ConfigError(f"the matcher's store under key prefix {prefix!r} is not empty: "
                          "rebuild into an empty one")
    # Data keys stay where they are: the rebuilt store seals its records with the same keys,
    # so deleting a child's keys still shreds every copy.
    engine.index.keystore = keystore_for(settings)
    if prefix != settings.key_prefix:
        _copy_thresholds(engine.index.r, settings.key_prefix, prefix)
    report = RebuildReport(prefix=prefix)
    decided: dict[str, str] = {}
    consumer, partitions = make_reader(settings, settings.topics.events)
    batch: list[ConsumerRecord] = []

    def decide_batch() -> None:
        # One record gives one DLQ message, one link (and its alerts), or nothing (skipped).
        accounted = _count(handle_batch(batch, engine, target), target, report, decided)
        report.skipped += len(batch) - accounted
        for _ in batch:
            tick()
        batch.clear()

    try:
        for record in ordered_records(consumer, partitions, idle_s):
            report.records += 1
            batch.append(record)
            if len(batch) >= BATCH:
                decide_batch()
        decide_batch()
        report.read_to = {str(tp.partition): consumer.position(tp) for tp in partitions}
    finally:
        close_consumer(consumer)
    final = engine.index.resolve_many(list(set(decided.values())))
    report.events = len(decided)
    report.children = len(set(final.values()))
    if out is not None:
        with out.open("w", encoding="utf-8") as fh:
            for event_id, child in decided.items():
                fh.write(json.dumps({"event_id": event_id, "child_id": final[child],
                                     "decided_child_id": child}) + "\n")
    report.seconds = round(time.monotonic() - started, 2)
    return report


def _count(outgoing: list[Outgoing], settings: MatcherSettings, report: RebuildReport,
           decided: dict[str, str]) -> int:
    """Count what a batch gave; the number of records it accounts for (DLQ and links)."""
    from schemas import LinkDecision

    topics = settings.topics
    accounted = 0
    for message in outgoing:
        if message.topic == topics.events_dlq:
            report.dead_lettered += 1
            accounted += 1
        elif message.topic == topics.links:
            accounted += 1
            d = LinkDecision.model_validate_json(message.value)
            if str(d.event_id) not in decided:
                report.outcomes[d.outcome.value] = report.outcomes.get(d.outcome.value, 0) + 1
            decided[str(d.event_id)] = d.child_id
    return accounted


def _copy_thresholds(client: redis.Redis, source: str, target: str) -> None:
    """The live thresholds (if an operator set any) apply to the rebuilt store too."""
    from services.matcher.keys import Keys

    src, dst = Keys(source).thresholds, Keys(target).thresholds
    if client.exists(src) and not client.exists(dst):
        client.copy(src, dst)


def register(app: typer.Typer) -> None:
    """Add `signpost rebuild` to the command line."""

    @app.command("rebuild")
    def rebuild_cmd(
        prefix: Annotated[str | None, typer.Option(
            help="Redis key prefix to build into, whose matcher store must be empty; default: "
                 "SIGNPOST_KEY_PREFIX itself (after Redis lost it)")] = None,
        out: Annotated[Path | None, typer.Option(
            dir_okay=False, help="also write {event_id, child_id} per event (JSONL)")] = None,
        idle_s: Annotated[float, typer.Option(
            help="the log is read to its end after this long without a record")] = IDLE_S,
    ) -> None:
        """Rebuild the matcher's Redis entity store and index from `contact.events`, and
        report. Stop the matchers first. In place (the default) after Redis lost the store;
        with --prefix into another prefix, to compare or to switch to (data keys are always
        read from SIGNPOST_KEY_PREFIX's key store)."""
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        from services.matcher.settings import MatcherSettings

        settings = MatcherSettings()
        target = prefix or settings.key_prefix
        console = Console(stderr=True)
        with Progress(SpinnerColumn(), TextColumn("rebuilding: {task.completed} records"),
                      TimeElapsedColumn(), console=console) as progress:
            task = progress.add_task("rebuild", total=None)
            report = rebuild(settings, target, out, idle_s,
                             tick=lambda: progress.advance(task))
        typer.echo(json.dumps(asdict(report), indent=2))
