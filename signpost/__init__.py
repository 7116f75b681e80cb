"""Signpost's shared plumbing (settings, Kafka, Redis, embedded servers) and its CLI."""
