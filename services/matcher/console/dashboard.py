"""The one place the operators' dashboard figures are gathered: rates, review queue, lag, alerts.

Consumer lag is end offset minus committed offset, per consumer group and topic: the matcher's
own group and SIGNPOST_CONSOLE_LAG_GROUPS (offsets are read with one idle, never-subscribed
consumer per group, built by signpost/kafka.py so it carries the security options). Caveat: some
Kafka-protocol brokers (Tansu, the embedded default) report a partition's end as the start of
its last batch, so lag there can read low by up to one batch; Apache Kafka's is exact.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime

import redis
from kafka import KafkaConsumer, TopicPartition
from pydantic import BaseModel, ConfigDict

from services.matcher.review import ReviewStore
from services.matcher.settings import MatcherSettings
from services.matcher.stats import DecisionRates, decision_rates
from services.matcher.thresholds import ThresholdSetting, ThresholdStore
from signpost.kafka import close_consumer, make_consumer

__all__ = ["Dashboard", "DashboardData", "Lag"]

logger = logging.getLogger(__name__)



class Lag(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    group: str
    topic: str
    lag: int
    committed: int
    end: int


class DashboardData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rates: DecisionRates
    review: dict[str, int]
    thresholds: ThresholdSetting
    lag: list[Lag] | None  # None: the broker did not answer
    alerts_published: int | None
    alerts_parked: int | None


class Dashboard:
    """Gathers the figures; keeps one idle consumer per watched group while it lives."""

    def __init__(self, settings: MatcherSettings, client: redis.Redis,
                 thresholds: ThresholdStore, reviews: ReviewStore) -> None:
        self.settings = settings
        self.r = client
        self.thresholds = thresholds
        self.reviews = reviews
        self._consumers: dict[str, KafkaConsumer] = {}

    def _watched(self) -> dict[str, str]:
        """consumer group -> topic (prefixed) whose lag is shown."""
        prefix = self.settings.topic_prefix
        groups = {g: f"{prefix}{t}" for g, t in self.settings.console_lag_groups.items()}
        return groups | {self.settings.matcher_group: self.settings.topics.events}

    def _consumer(self, group: str) -> KafkaConsumer:
        if group not in self._consumers:
            self._consumers[group] = make_consumer(self.settings, [], group)
        return self._consumers[group]

    def _partitions(self, topic: str) -> list[TopicPartition]:
        consumer = self._consumer(self.settings.matcher_group)
        return [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic)
                                                         or ())]

    def _end(self, topic: str) -> int:
        parts = self._partitions(topic)
        ends = self._consumer(self.settings.matcher_group).end_offsets(parts) if parts else {}
        return int(sum(ends.values()))

    def _lag_of(self, group: str, topic: str) -> Lag | None:
        parts = self._partitions(topic)
        consumer = self._consumer(group)
        committed = [consumer.committed(tp) for tp in parts]
        if all(c is None for c in committed):
            return None  # the group never committed here: not running on this deployment
        done = sum(c or 0 for c in committed)
        end = int(sum(consumer.end_offsets(parts).values()))
        return Lag(group=group, topic=topic, committed=done, end=end, lag=max(end - done, 0))

    def _lag(self) -> list[Lag]:
        rows = [self._lag_of(g, t) for g, t in sorted(self._watched().items())]
        return [row for row in rows if row is not None]

    def gather(self, now: datetime) -> DashboardData:
        lag = published = parked = None
        try:
            lag = self._lag()
            published, parked = self._end(self.settings.topics.alerts), self._end(
                self.settings.topics.alerts_dlq)
        except Exception:  # kafka-python raises its own tree; the page still shows Redis figures
            logger.warning("dashboard: broker did not answer", exc_info=True)
        return DashboardData(rates=decision_rates(self.r, self.settings.key_prefix, now),
                             review=self.reviews.counts(), thresholds=self.thresholds.current(),
                             lag=lag, alerts_published=published, alerts_parked=parked)

    def close(self) -> None:
        for consumer in self._consumers.values():
            with contextlib.suppress(Exception):
                close_consumer(consumer)
