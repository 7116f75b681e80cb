"""The one place the live match thresholds are kept: versioned in Redis, read by every matcher.

`ThresholdStore.set` moves the version by compare-and-set (a Lua script), so two operators
never both change version n; every version is kept in a history list. `LiveThresholds` is the
engine's `thresholds` callable: it re-reads Redis at most every CACHE_TTL_S, so a running
matcher picks a change up within that time, without a restart. Audit is the caller's
(services/matcher/operations.py), because only the caller knows who asked and why.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

import redis
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from services.matcher.errors import ThresholdConflict
from services.matcher.keys import Keys

__all__ = ["CACHE_TTL_S", "LiveThresholds", "ThresholdSetting", "ThresholdStore"]

CACHE_TTL_S = 2.0  # a change reaches every running matcher within this (the promise is 5 s)
HISTORY_SHOWN = 100

# Move the thresholds to a new version if the caller saw the current one.
# KEYS[1]: HASH the live setting (upper, lower, version, changed_at, actor, reason)
# KEYS[2]: LIST JSON of every version, oldest first
# ARGV[1]: the version the caller saw ("" = whatever is there)
# ARGV[2]: JSON of the new setting without its version
# returns: {new version, old JSON or ""}; {-1, current version} when ARGV[1] is stale
SET_LUA = """
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= current then return {-1, tostring(current)} end
local old = redis.call('HGET', KEYS[1], 'json') or ''
local setting = cjson.decode(ARGV[2])
setting['version'] = current + 1
local encoded = cjson.encode(setting)
redis.call('HSET', KEYS[1], 'version', current + 1, 'json', encoded)
redis.call('RPUSH', KEYS[2], encoded)
return {current + 1, old}
"""


class ThresholdSetting(BaseModel):
    """One version of the thresholds: score >= upper links, lower <= score < upper reviews."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=0, description="0 = the model's own, never changed")
    upper: float
    lower: float
    changed_at: AwareDatetime | None = None
    actor: str | None = None
    reason: str | None = Field(default=None, max_length=500)

    def upper_lower(self) -> tuple[float, float]:
        return self.upper, self.lower

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdSetting:
        if self.lower > self.upper:
            raise ValueError("lower threshold must not exceed upper")
        return self


class ThresholdStore:
    """The live thresholds of one key prefix; `default` is the model's (version 0)."""

    def __init__(self, client: redis.Redis, prefix: str, default: tuple[float, float]) -> None:
        self.r = client
        self.k = Keys(prefix)
        self.default = ThresholdSetting(version=0, upper=default[0], lower=default[1])
        self._set = client.register_script(SET_LUA)

    def current(self) -> ThresholdSetting:
        raw = self.r.hget(self.k.thresholds, "json")
        return ThresholdSetting.model_validate_json(raw) if raw else self.default

    def set(self, *, upper: float, lower: float, actor: str, reason: str,
            expected_version: int | None = None,
            now: Callable[[], datetime] = lambda: datetime.now(UTC)
            ) -> tuple[ThresholdSetting, ThresholdSetting]:
        """(old, new); ThresholdConflict if `expected_version` is no longer current."""
        new = ThresholdSetting(version=0, upper=upper, lower=lower, changed_at=now(),
                               actor=actor, reason=reason)
        body = new.model_dump(mode="json", exclude={"version"})
        version, old = self._set(keys=[self.k.thresholds, self.k.threshold_history],
                                 args=["" if expected_version is None else expected_version,
                                       json.dumps(body)])
        if int(version) == -1:
            raise ThresholdConflict(f"thresholds are at version {old}, not {expected_version}")
        previous = ThresholdSetting.model_validate_json(old) if old else self.default
        return previous, new.model_copy(update={"version": int(version)})

    def history(self, limit: int = HISTORY_SHOWN) -> list[ThresholdSetting]:
        """The newest `limit` versions, oldest first (version 0, the model's, not included)."""
        raw = self.r.lrange(self.k.threshold_history, -limit, -1)
        return [ThresholdSetting.model_validate_json(v) for v in raw]


class LiveThresholds:
    """The engine's thresholds callable: (upper, lower), re-read at most every `ttl_s`."""

    def __init__(self, store: ThresholdStore, ttl_s: float = CACHE_TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.clock = clock
        self._value: tuple[float, float] | None = None
        self._read_at = 0.0

    def __call__(self) -> tuple[float, float]:
        now = self.clock()
        if self._value is None or now - self._read_at >= self.ttl_s:
            setting = self.store.current()
            self._value, self._read_at = (setting.upper, setting.lower), now
        return self._value
