"""The one place the console's dependencies are built: operations, dashboard, audit writer."""

from __future__ import annotations

from services.matcher.console.dashboard import Dashboard
from services.matcher.console.routes import ConsoleState
from services.matcher.engine import Engine
from services.matcher.operations import Operations
from services.matcher.review import ReviewStore
from services.matcher.settings import MatcherSettings
from services.matcher.thresholds import LiveThresholds, ThresholdStore
from signpost.audit import build_audit_log
from signpost.kafka import make_producer
from signpost.settings import Environment

__all__ = ["build_console", "build_operations"]


def build_operations(settings: MatcherSettings, engine: Engine, service: str) -> Operations:
    """Operators' actions over the engine's index, with an audit writer and a producer."""
    r = engine.index.r
    producer = make_producer(settings)
    live = engine.thresholds
    store = live.store if isinstance(live, LiveThresholds) else ThresholdStore(
        r, settings.key_prefix, (engine.model.upper, engine.model.lower))
    return Operations(index=engine.index, model=engine.model, thresholds=store,
                      reviews=ReviewStore(r, settings.key_prefix),
                      audit=build_audit_log(settings, r, producer, service),
                      producer=producer, topics=settings.topics)


def build_console(settings: MatcherSettings, engine: Engine) -> ConsoleState:
    ops = build_operations(settings, engine, "matcher-console")
    return ConsoleState(ops=ops, dashboard=Dashboard(settings, ops.index.r, ops.thresholds,
                                                     ops.reviews),
                        settings=settings, token_secret=settings.token_secret.get_secret_value(),
                        secure_cookies=settings.environment is Environment.production)
