"""The one place Redis key names of the matcher are built.

Every key shares the hash tag {prefix}, so the Lua scripts and transactions that touch several
keys stay in one slot of a Redis Cluster.
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache

__all__ = ["AGENCY", "BLOCK_INLINE_MAX", "PRACTITIONER", "RECORD", "Keys", "compact_id",
           "full_id"]


ID_CACHE = 1 << 17  # ids converted per process and kept: an event's candidates recur
# Blocking keys are fields of 16^BLOCK_BUCKET_HEX hashes: 65,536 keep a million-event store's
# buckets at about 40 fields (listpacks; README "Speed and memory" for larger stores).
BLOCK_BUCKET_HEX = 4
BLOCK_INLINE_MAX = 64  # Redis's default hash-max-listpack-value: a longer value moves out
# Records a bucket (Keys.record): HGET scans a listpack, and buckets of 128 records (~40 KB)
# cost Redis ~30% more CPU per event than 32 (~10 KB), whose keys add ~3 bytes a record.
RECORDS_PER_BUCKET = 32
# The prefixes of a child hash's fields (Keys.child): its agencies, practitioners and records.
AGENCY, PRACTITIONER, RECORD = "a:", "p:", "r:"


@lru_cache(maxsize=ID_CACHE)
def compact_id(event_id: str) -> str:
    """An event (record) id as it appears in key names and index members: a UUID (canonical:
    lower case, dashed) as the 22 characters of its 16 bytes in URL-safe base64, not 36; any
    other id as '=' and itself."""
    if len(event_id) == 36:
        try:
            raw = bytes.fromhex(event_id.replace("-", ""))
        except ValueError:
            raw = b""
        if len(raw) == 16 and _dashed(raw.hex()) == event_id:
            return base64.urlsafe_b64encode(raw).decode("ascii")[:22]
    return "=" + event_id


@lru_cache(maxsize=ID_CACHE)
def full_id(compact: str) -> str:
    """`compact_id`'s inverse (a member written before the compact form is the id itself)."""
    if compact.startswith("="):
        return compact[1:]
    if len(compact) == 22:
        try:
            raw = base64.urlsafe_b64decode(compact + "==")
        except (ValueError, binascii.Error):
            return compact
        if len(raw) == 16:
            return _dashed(raw.hex())
    return compact


def _dashed(hex32: str) -> str:
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:]}"


class Keys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.p = f"{{{prefix}}}:m"

    @property
    def lock(self) -> str:
        return f"{self.p}:lock"

    @property
    def seq(self) -> str:
        return f"{self.p}:seq"

    @property
    def layout(self) -> str:
        """STRING the layout the store was written in (index.LAYOUT)."""
        return f"{self.p}:layout"

    @property
    def redirect(self) -> str:
        """HASH replaced child id -> the child id that replaced it."""
        return f"{self.p}:redirect"

    def block(self, digest: str) -> tuple[str, str, str]:
        """Where a blocking key's members are: (bucket, field, overflow).

        A blocking key is a field of one of 16^BLOCK_BUCKET_HEX bucket HASHes (its digest's
        first hex digits name the bucket, the rest the field), whose value is its members'
        sequence numbers, oldest first, comma-separated, while that fits a listpack value
        (BLOCK_INLINE_MAX); a key with more members moves to its own ZSET (the overflow) of
        sequence numbers scored by themselves, trimmed to index.BLOCK_KEEP_CAPS times the
        members an event reads. A record is named by its sequence number (`record`)."""
        cut = BLOCK_BUCKET_HEX
        return f"{self.p}:blk:{digest[:cut]}", digest[cut:], f"{self.p}:blkz:{digest}"

    def record(self, seq: int) -> tuple[str, str]:
        """(bucket, field): a record (index.SealedRecord: its ids in clear, its features
        sealed) is a field of a HASH of RECORDS_PER_BUCKET records, named by its sequence
        number, which is what a blocking key's members are. A listpack while its values fit
        `hash-max-listpack-value` (512 in the deployment: README), where a key apiece cost
        ~110 bytes a record more."""
        return f"{self.p}:rec:{seq // RECORDS_PER_BUCKET}", str(seq)

    def event(self, event_id: str) -> str:
        """STRING JSON of the stored result: makes processing idempotent (expires after
        SIGNPOST_RESULT_TTL_HOURS)."""
        return f"{self.p}:evt:{compact_id(event_id)}"

    def child(self, child_id: str) -> str:
        """HASH everything of a child but its cannot-link set, in one key (three more cost
        ~100 bytes each): 'created' (its sequence number), 'shielded' and 'consent' ('0' or
        '1'), then one field per agency ('a:' agency id -> agency kind), per practitioner
        ('p:' id -> index.PractitionerOnRecord.stored) and per record ('r:' compact record
        id -> sequence number, which is where the record is: `record`). A listpack while it
        fits hash-max-listpack-entries (128) and -value (512 in the deployment)."""
        return f"{self.p}:child:{child_id}"

    @property
    def tf_total(self) -> str:
        """STRING count of records counted for term frequencies."""
        return f"{self.p}:tf:total"

    def tf(self, comparison: str, digest: str) -> str:
        """STRING count of records with this (keyed-hashed) value."""
        return f"{self.p}:tf:{comparison}:{digest}"

    def agency_record(self, digest: str) -> tuple[str, str]:
        """(bucket, field): the keyed hash of 'agency id/agency record id' is a field of one of
        16^BLOCK_BUCKET_HEX HASHes, whose value is the child id the agency record was given.
        (Its events are the members of its own blocking key, blocking.record_key.)"""
        cut = BLOCK_BUCKET_HEX
        return f"{self.p}:arec:{digest[:cut]}", digest[cut:]

    def cannot_link(self, child_id: str) -> str:
        """SET child ids this child must never be linked with."""
        return f"{self.p}:child:{child_id}:cannot"

    # --- operators: thresholds, review queue, labelled pairs, dashboard counters ---------

    @property
    def thresholds(self) -> str:
        """HASH the live thresholds: upper, lower, version, changed_at, actor, reason."""
        return f"{self.p}:thr"

    @property
    def threshold_history(self) -> str:
        """LIST JSON of every threshold version, oldest first."""
        return f"{self.p}:thr:hist"

    def review_item(self, review_id: str) -> str:
        """STRING JSON of one review item (ids, score, explanation; no personal data)."""
        return f"{self.p}:rv:{review_id}"

    @property
    def review_queue(self) -> str:
        """ZSET open review ids scored by priority (lowest first: oldest, riskiest)."""
        return f"{self.p}:rv:open"

    @property
    def review_done(self) -> str:
        """ZSET decided review ids scored by decision time (unix seconds)."""
        return f"{self.p}:rv:done"

    @property
    def labelled_pairs(self) -> str:
        """LIST JSON {score, match, source, at} per operator decision: evidence for tuning."""
        return f"{self.p}:pairs"

    def stats(self, bucket: int) -> str:
        """HASH outcome -> events decided in one STATS_BUCKET_S bucket (expires)."""
        return f"{self.p}:stats:{bucket}"

    @property
    def recent_scores(self) -> str:
        """LIST the newest events' best-candidate scores ("" when none): the review-load sample."""
        return f"{self.p}:scores"
