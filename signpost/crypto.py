"""The one place personal data is encrypted at rest, and the key store that makes deletion real.

Envelope encryption (DESIGN §7):
- every agency record (agency id + the agency's own record id) has its own random 256-bit
  *data key*; personal fields of that record are sealed with it (AES-256-GCM, a fresh 96-bit
  nonce per seal, and associated data binding the ciphertext to its record and key);
- data keys are kept *wrapped* (AES-GCM under the master key) in the key store, a Redis of its
  own (SIGNPOST_KEYSTORE_URL), never beside the data they open;
- deleting a child deletes its records' data keys: from then on every copy of their sealed
  bytes — a Redis dump taken before, a Kafka topic, a backup — is noise (crypto-shredding).

The key id of a record is a keyed hash of 'agency|record' (under a key derived from the master
key), so ingest and every matcher find the same key without asking each other, and the key
store holds no readable record ids.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import redis
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from schemas import SealedEvent, StandardisedEvent
from signpost.errors import ConfigError
from signpost.settings import KEY_CACHE_ENTRIES, CommonSettings, Environment

__all__ = [
    "CryptoError",
    "KeyShredded",
    "KeyStore",
    "keystore_for",
    "keystore_url",
    "master_key",
    "open_event",
    "open_sealed",
    "seal",
    "seal_event",
]

NONCE_BYTES = 12
DATA_KEY_BYTES = 32
CACHE_TTL_S = 300.0  # an unwrapped key lives this long in one process's memory, at most


class CryptoError(Exception):
    """Sealed bytes that do not open: wrong key, tampered, or not sealed by Signpost."""


class KeyShredded(CryptoError):
    """The data key is gone (the child was deleted): the bytes can never be opened again."""


def _derive(master: bytes, purpose: str) -> bytes:
    """A sub-key of the master key for one purpose (HMAC-SHA256 as a KDF)."""
    return hmac.new(master, f"signpost/{purpose}/v1".encode(), hashlib.sha256).digest()


def master_key(settings: CommonSettings) -> bytes:
    """The 256-bit master key, from SIGNPOST_MASTER_KEY_FILE or SIGNPOST_MASTER_KEY.

    The material may be any high-entropy string (e.g. `signpost secrets`' output); it is
    stretched to 256 bits. Outside dev and test a placeholder is a configuration error.
    """
    if settings.master_key_file is not None:
        try:
            material = settings.master_key_file.read_text("utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"SIGNPOST_MASTER_KEY_FILE cannot be read ({exc.strerror})") \
                from None
        if not material:
            raise ConfigError("SIGNPOST_MASTER_KEY_FILE is empty")
    else:
        settings.refuse_placeholder_master_key()
        material = settings.master_key.get_secret_value()
    return _derive(material.encode(), "master")


def seal(key: bytes, associated: bytes, plaintext: bytes) -> bytes:
    """nonce || AES-256-GCM(plaintext), bound to `associated` (record and key ids)."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated)


def open_sealed(key: bytes, associated: bytes, blob: bytes) -> bytes:
    """The plaintext of `seal`'s output; CryptoError if it was not sealed with this key and
    these associated data, or was changed since."""
    if len(blob) <= NONCE_BYTES:
        raise CryptoError("sealed value too short")
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated)
    except InvalidTag:
        raise CryptoError("sealed value does not open with its key") from None


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise CryptoError("sealed value is not base64") from None


class _Cache:
    """Unwrapped data keys, bounded in number (`size`; 0: none kept) and age; thread-safe."""

    def __init__(self, size: int = KEY_CACHE_ENTRIES) -> None:
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, key_id: str) -> bytes | None:
        with self._lock:
            hit = self._items.get(key_id)
            if hit is None:
                return None
            if time.monotonic() - hit[0] > CACHE_TTL_S:
                del self._items[key_id]
                return None
            return hit[1]

    def put(self, key_id: str, key: bytes) -> None:
        with self._lock:
            self._items[key_id] = (time.monotonic(), key)
            self._items.move_to_end(key_id)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def drop(self, key_ids: Iterable[str]) -> None:
        with self._lock:
            for key_id in key_ids:
                self._items.pop(key_id, None)


class KeyStore:
    """Wrapped data keys, one per agency record, in a Redis of their own.

    `for_record` creates a record's key on first use (SET NX, so two writers agree on one);
    `get_many` reads keys for opening and never creates one; `delete` is the shredding.
    A key read for opening is cached in memory for CACHE_TTL_S at most; a key used for sealing
    is always read from the store, so a record deleted and then seen again gets a new key.
    """

    def __init__(self, client: redis.Redis, prefix: str, master: bytes,
                 cache_entries: int = KEY_CACHE_ENTRIES) -> None:
        """`cache_entries`: unwrapped keys this process keeps (0: none)."""
        self.r = client
        self.prefix = prefix
        self._wrap = AESGCM(_derive(master, "wrap"))
        self._id_key = _derive(master, "key-id")
        self._cache = _Cache(cache_entries)

    def key_id(self, agency_id: str, agency_record_id: str) -> str:
        material = f"{agency_id}|{agency_record_id}".encode()
        return hmac.new(self._id_key, material, hashlib.sha256).hexdigest()[:32]

    def _name(self, key_id: str) -> str:
        return f"{{{self.prefix}}}:ks:{key_id}"

    def _unwrap(self, key_id: str, wrapped: str) -> bytes:
        blob = unb64(wrapped)
        try:
            return self._wrap.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], key_id.encode())
        except InvalidTag:
            raise CryptoError("a data key does not unwrap with this master key") from None

    def _new_key(self, key_id: str) -> tuple[bytes, str]:
        """A fresh data key for `key_id`, and its wrapped form as stored."""
        nonce, key = os.urandom(NONCE_BYTES), os.urandom(DATA_KEY_BYTES)
        return key, b64(nonce + self._wrap.encrypt(nonce, key, key_id.encode()))

    def _winner(self, key_id: str) -> str:
        """The wrapped key another writer stored first (our SET NX lost the race)."""
        wrapped = self.r.get(self._name(key_id))
        if wrapped is None:
            raise CryptoError("a data key vanished while it was being created")
        return str(wrapped)

    def for_record(self, agency_id: str, agency_record_id: str,
                   reuse_cached: bool = False) -> tuple[str, bytes]:
        """(key id, data key) of this agency record, created if it has none.

        `reuse_cached`: a key this process read moments ago will do (the matcher sealing the
        record of an event it just opened with that key); else the store is asked.
        """
        key_id = self.key_id(agency_id, agency_record_id)
        if reuse_cached:
            hit = self._cache.get(key_id)
            if hit is not None:
                return key_id, hit
        # A cache miss of the matcher (reuse_cached) is most likely a new record: try to create
        # its key first (one round trip) and read the one that exists only if that fails.
        # Otherwise the store is read first (a key deleted since is then made anew).
        wrapped = None if reuse_cached else self.r.get(self._name(key_id))
        if wrapped is None:
            fresh, candidate = self._new_key(key_id)
            if self.r.set(self._name(key_id), candidate, nx=True):
                self._cache.put(key_id, fresh)
                return key_id, fresh
            wrapped = self._winner(key_id)
        key = self._unwrap(key_id, str(wrapped))
        self._cache.put(key_id, key)
        return key_id, key

    def for_records(self, records: Iterable[tuple[str, str]]) -> dict[tuple[str, str],
                                                                       tuple[str, bytes]]:
        """`for_record` for many (agency id, agency record id) at once, always asking the
        store: one MGET, and one pipeline of SET NX for the records that have no key yet
        (ingest seals a poll batch with this: two round trips, not one or two per event)."""
        wanted = {rec: self.key_id(*rec) for rec in dict.fromkeys(records)}
        if not wanted:
            return {}
        ids = list(dict.fromkeys(wanted.values()))
        found: dict[str, Any] = dict(zip(ids, self.r.mget([self._name(k) for k in ids]),
                                         strict=True))
        fresh = {key_id: self._new_key(key_id) for key_id, v in found.items() if v is None}
        keys: dict[str, bytes] = {}
        if fresh:
            pipe = self.r.pipeline(transaction=False)
            for key_id, (_, wrapped) in fresh.items():
                pipe.set(self._name(key_id), wrapped, nx=True)
            for (key_id, (key, _)), created in zip(fresh.items(), pipe.execute(), strict=True):
                if created:
                    keys[key_id] = key
                else:
                    found[key_id] = self._winner(key_id)
        for key_id, wrapped in found.items():
            if key_id not in keys:
                keys[key_id] = self._unwrap(key_id, str(wrapped))
        for key_id, key in keys.items():
            self._cache.put(key_id, key)
        return {rec: (key_id, keys[key_id]) for rec, key_id in wanted.items()}

    def warm(self, records: Iterable[tuple[str, str]]) -> None:
        """Make sure this process holds the data key of each (agency id, agency record id),
        created if it has none: `for_records` (two round trips) for those it has not cached,
        so sealing a batch's records (`for_record(..., reuse_cached=True)`) asks nothing."""
        missing = [rec for rec in dict.fromkeys(records)
                   if self._cache.get(self.key_id(*rec)) is None]
        if missing:
            self.for_records(missing)

    def get_many(self, key_ids: Iterable[str]) -> dict[str, bytes]:
        """Data keys by id; a deleted (shredded) key is simply absent."""
        wanted = list(dict.fromkeys(key_ids))
        out: dict[str, bytes] = {}
        missing = []
        for key_id in wanted:
            hit = self._cache.get(key_id)
            if hit is None:
                missing.append(key_id)
            else:
                out[key_id] = hit
        if missing:
            for key_id, wrapped in zip(missing, self.r.mget([self._name(k) for k in missing]),
                                       strict=True):
                if wrapped is not None:
                    out[key_id] = key = self._unwrap(key_id, str(wrapped))
                    self._cache.put(key_id, key)
        return out

    def get(self, key_id: str) -> bytes:
        """One data key; KeyShredded if it was deleted."""
        found = self.get_many([key_id]).get(key_id)
        if found is None:
            raise KeyShredded("the data key of this record has been deleted")
        return found

    def delete(self, key_ids: Iterable[str]) -> int:
        """Delete data keys: whatever they sealed can never be opened again. Returns how many
        existed."""
        ids = list(dict.fromkeys(key_ids))
        self._cache.drop(ids)
        if not ids:
            return 0
        return int(self.r.delete(*[self._name(k) for k in ids]))


def keystore_url(settings: CommonSettings) -> str:
    """The key store's Redis: its own in production, else the entity store's."""
    return settings.keystore_url or settings.redis_url


def keystore_for(settings: CommonSettings) -> KeyStore:
    """The key store the settings name (its own Redis in production)."""
    url = keystore_url(settings)
    if settings.environment is Environment.production and url == settings.redis_url:
        raise ConfigError("SIGNPOST_KEYSTORE_URL must name a Redis other than "
                          "SIGNPOST_REDIS_URL: a dump of the entity store must not hold the "
                          "keys that open it")
    client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5.0,
                                  socket_connect_timeout=5.0, health_check_interval=30)
    return KeyStore(client, settings.key_prefix, master_key(settings),
                    settings.key_cache_entries)


def _event_aad(event_id: str, key_id: str) -> bytes:
    return f"evt|{event_id}|{key_id}".encode()


def seal_event(std: StandardisedEvent, keystore: KeyStore,
               data_key: tuple[str, bytes] | None = None) -> SealedEvent:
    """What ingest puts on `contact.events`: the event sealed with its agency record's key
    (`data_key`: that record's (key id, key) as `KeyStore.for_records` gave it; else asked)."""
    ev = std.event
    key_id, key = data_key or keystore.for_record(ev.agency.id, ev.agency_record_id)
    blob = seal(key, _event_aad(str(ev.event_id), key_id), std.model_dump_json().encode())
    return SealedEvent(event_id=ev.event_id, agency_id=ev.agency.id, key_id=key_id,
                       sealed=b64(blob))


def open_event(sealed: SealedEvent, keystore: KeyStore) -> StandardisedEvent:
    """The standardised event inside; KeyShredded if its record was deleted, CryptoError if
    the bytes were not sealed by Signpost with that key (or were changed)."""
    key = keystore.get(sealed.key_id)
    plain = open_sealed(key, _event_aad(str(sealed.event_id), sealed.key_id),
                        unb64(sealed.sealed))
    std = StandardisedEvent.model_validate_json(plain)
    if std.event.event_id != sealed.event_id:
        raise CryptoError("sealed event id does not match its envelope")
    return std
