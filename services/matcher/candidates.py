"""Which stored records an event is scored against: the candidates, ranked and capped.

Pure. Each of the event's blocking keys yields its newest records (newest first; fewer from a
broad key, one whose block grows with the population: blocking.BROAD_KINDS). A record
found under more of the event's keys agrees on more field pairs, so it is ranked first; ties
go to the newest (highest sequence). Scoring only the best `cap` bounds an event's cost
whatever the size of the index or the commonness of a name, while a record that shares a
single key with the event (a new surname, a mistyped birth date) is still scored whenever the
event has few neighbours.

This is the reference: the index runs the same ranking inside Redis (scripts.PREFETCH, tested
to agree with this function), so the members it does not keep never leave Redis. The ranking
is a total order on (shared keys, sequence), so an engine batch can rank Redis's best and its
own not-yet-committed records apart and merge them (`merge_ranked`) with the same result as
one ranking over both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["Ranked", "merge_ranked", "ranked_candidates"]

Ranked = tuple[str, int, int]  # (record id, blocking keys shared with the event, sequence)


def ranked_candidates(per_key: Iterable[Sequence[tuple[str, int]]], cap: int) -> list[Ranked]:
    """(record id, shared keys, sequence) by the number of the event's keys they share (most
    first), then newest first; at most `cap`. `per_key`: each key's (record id, sequence)."""
    shared: dict[str, int] = {}
    seqs: dict[str, int] = {}
    for members in per_key:
        for rid, seq in members:
            shared[rid] = shared.get(rid, 0) + 1
            seqs.setdefault(rid, seq)
    return merge_ranked([(rid, n, seqs[rid]) for rid, n in shared.items()], [], cap)


def merge_ranked(a: Iterable[Ranked], b: Iterable[Ranked], cap: int) -> list[Ranked]:
    """Two rankings of disjoint records as one, capped."""
    return sorted([*a, *b], key=lambda r: (-r[1], -r[2], r[0]))[:cap]
