"""What a test reads of the matcher's blocking index in Redis, whatever its layout."""

from __future__ import annotations

from services.matcher.index import Index, stored_record_id

__all__ = ["blocking_view"]


def blocking_view(index: Index) -> tuple[set[int], dict[int, str]]:
    """(every sequence number any blocking key holds, the records stored: sequence -> record
    id), read with SCAN: for tests, never for a service."""
    p, r = index.k.p, index.r
    seqs: set[int] = set()
    for key in r.scan_iter(match=f"{p}:blk:*"):
        for value in r.hvals(key):
            seqs.update(int(m) for m in str(value).split(","))
    for key in r.scan_iter(match=f"{p}:blkz:*"):
        seqs.update(int(m) for m in r.zrange(key, 0, -1))
    ids: dict[int, str] = {}
    for key in r.scan_iter(match=f"{p}:rec:*"):
        ids.update({int(q): stored_record_id(str(v)) for q, v in r.hgetall(key).items()})
    return seqs, ids
