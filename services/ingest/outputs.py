"""The one place ingest turns a valid event into its message on `contact.events`."""

from __future__ import annotations

from schemas import StandardisedEvent
from services.ingest.settings import IngestSettings
from signpost.kafka import Outgoing

__all__ = ["accepted_outgoing"]


def accepted_outgoing(std: StandardisedEvent, settings: IngestSettings) -> Outgoing:
    """A valid event on `contact.events`, keyed by agency and record (keeps their order)."""
    key = f"{std.event.agency.id}/{std.event.agency_record_id}".encode()
    return Outgoing(settings.topics.events, std.model_dump_json().encode(), key)
