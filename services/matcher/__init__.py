"""Matcher: find which contact events are the same child (DESIGN §5).

The path of one event: service.py (Kafka) -> engine.Engine.process -> standardise.features
-> blocking.block_keys -> index.Index (Redis: candidates) -> score.score_pair (compare.py levels,
model.py weights) -> cluster.decide -> index.Index.commit -> alerts.build_alerts -> service.py.
"""
