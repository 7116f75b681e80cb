"""The one place ingest turns a valid event into its message on `contact.events`."""

from __future__ import annotations

from schemas import StandardisedEvent
from services.ingest.settings import IngestSettings
from signpost.crypto import KeyStore, seal_event
from signpost.kafka import Outgoing

__all__ = ["accepted_outgoing"]


def accepted_outgoing(std: StandardisedEvent, settings: IngestSettings,
                      keystore: KeyStore, data_key: tuple[str, bytes] | None = None) -> Outgoing:
    """A valid event, sealed, on `contact.events`: keyed by its data key's id, a keyed hash of
    agency and record, which keeps a record's events in order and names nobody. `data_key`:
    the record's (key id, key) if already read (a batch's keys come in one round trip)."""
    sealed = seal_event(std, keystore, data_key)
    return Outgoing(settings.topics.events, sealed.model_dump_json().encode(),
                    sealed.key_id.encode())
