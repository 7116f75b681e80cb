"""The one place Signpost builds its Redis client."""

from __future__ import annotations

import redis

from signpost.settings import CommonSettings

__all__ = ["make_redis"]

SOCKET_TIMEOUT_S = 5.0  # a Redis that does not answer in 5 s is down: the batch is retried


def make_redis(settings: CommonSettings) -> redis.Redis:
    """A client returning str (decode_responses) with bounded timeouts and a health check."""
    return redis.Redis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=SOCKET_TIMEOUT_S,
        health_check_interval=30,
    )
