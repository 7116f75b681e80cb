"""Ingest: validate and standardise contact events from Kafka and the HTTP gateway."""
