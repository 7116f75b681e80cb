"""Which stored records an event is scored against: the candidates, ranked and capped.

Pure. Each of the event's blocking keys yields its newest records (newest first). A record
found under more of the event's keys agrees on more field pairs, so it is ranked first; ties
keep the newest first. Scoring only the best `cap` bounds an event's cost whatever the size of
the index or the commonness of a name, while a record that shares a single key with the event
(a new surname, a mistyped birth date) is still scored whenever the event has few neighbours.

This is the reference: the index runs the same ranking inside Redis (scripts.PREFETCH, tested
to agree with this function), so the members it does not keep never leave Redis.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["ranked_candidates"]


def ranked_candidates(per_key: Iterable[Sequence[str]], cap: int) -> list[str]:
    """Record ids by the number of the event's keys they share (most first), then by how
    early they came (each key lists its newest first); at most `cap`."""
    shared: dict[str, int] = {}
    for ids in per_key:
        for rid in ids:
            shared[rid] = shared.get(rid, 0) + 1
    if len(shared) <= cap:
        return list(shared)
    order = {rid: i for i, rid in enumerate(shared)}
    return sorted(shared, key=lambda rid: (-shared[rid], order[rid]))[:cap]
