"""Matcher: find which contact events are the same child (DESIGN §5).

The path of one event: service.handle_batch (Kafka, one poll batch) ->
engine.Engine.process_many (a batch of one: Engine.process) -> standardise.features ->
blocking.block_keys -> index.Index.prefetch_many (Redis: its candidates, scripts.PREFETCH) ->
index.Index.open_records -> score.Scorer (compare.py levels, model.py weights) ->
cluster.decide (rules.py caps) -> alerts.build_alerts -> index.Index.queue_commit (one MULTI
per batch, scripts.COMMIT_RECORD) -> service.handle_batch (links and alerts to Kafka).
"""
