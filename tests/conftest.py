"""Session-scoped real servers: the embedded Kafka-protocol broker and a private redis-server.

Tests isolate by name: each gets uuid-prefixed topics, its own consumer groups and its own
Redis key prefix.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
import redis

from signpost.configdoc import settings_classes
from signpost.embedded import EmbeddedServer, start_broker, start_redis
from signpost.settings import CommonSettings

TEST_SESSION_TIMEOUT_MS = 2000  # Tansu's first group join takes about half of this


def group_settings() -> list[str]:
    """Every consumer-group setting of every settings class (`ingest_group`, ...)."""
    return sorted({name for _, cls in settings_classes() for name in cls.model_fields
                   if name.endswith("_group")})


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedServer]:
    server = start_broker()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedServer]:
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def keystore_server() -> Iterator[EmbeddedServer]:
    """The key store's own redis-server: a dump of the entity store never holds the keys."""
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: EmbeddedServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def new_prefix(redis_client: redis.Redis) -> Iterator[Callable[[], str]]:
    """Makes Redis key prefixes of this test's own, as many as it asks for; the keys of each
    (`{prefix}:*`) are deleted after."""
    made: list[str] = []

    def make() -> str:
        made.append(f"t{uuid.uuid4().hex[:8]}")
        return made[-1]
    yield make
    for name in made:
        for key in redis_client.scan_iter(match=f"{{{name}}}:*"):
            redis_client.delete(key)


@pytest.fixture
def key_prefix(new_prefix: Callable[[], str]) -> str:
    """A Redis key prefix of this test's own; its keys (`{prefix}:*`) are deleted after."""
    return new_prefix()


@pytest.fixture
def env(broker: EmbeddedServer, redis_server: EmbeddedServer,
        keystore_server: EmbeddedServer) -> dict[str, str]:
    """SIGNPOST_* values for one test: its own topic and key prefixes and consumer groups on
    the shared servers."""
    tag = uuid.uuid4().hex[:10]
    groups = {f"SIGNPOST_{name.upper()}": f"t{tag}.{name.removesuffix('_group')}"
              for name in group_settings()}
    return groups | {
        "SIGNPOST_ENVIRONMENT": "test",
        "SIGNPOST_KAFKA_BOOTSTRAP": broker.url,
        "SIGNPOST_REDIS_URL": redis_server.url,
        "SIGNPOST_KEYSTORE_URL": keystore_server.url,
        "SIGNPOST_TOPIC_PREFIX": f"t{tag}.",
        "SIGNPOST_KEY_PREFIX": f"t{tag}",
        "SIGNPOST_SESSION_TIMEOUT_MS": str(TEST_SESSION_TIMEOUT_MS),
        "SIGNPOST_PARTITIONS": "1",
    }


@pytest.fixture
def common(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> CommonSettings:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return CommonSettings()
