"""The one place a linkage model is estimated from unlabelled events (`signpost train`).

u: level frequencies among random pairs (nearly all are different children).
m: expectation-maximisation with u held fixed, in sessions (Splink's approach): pairs sharing
a birth date estimate every comparison but the birth date; pairs sharing given and family name
(phonetically) estimate the birth date. Each session leaves out the comparison it was blocked
on, so siblings (who share a surname, an address and carers but neither birth date nor given
name) never teach the model that a different child looks like the same one.
prior: the share of matches among the engine's own candidate pairs, by EM on it alone.
Pure: records in, model out. Counts are smoothed so no level gets probability 0.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations

from services.matcher.blocking import block_keys, given_key
from services.matcher.model import COMPARISONS, LevelParams, LinkageModel
from services.matcher.score import levels_of
from services.matcher.standardise import Features, phonetic

__all__ = ["TrainingReport", "blocked_pairs", "em", "estimate_u", "patterns_of", "train"]

SMOOTHING = 0.5  # pseudo-count per level: keeps rare levels finite
MAX_BLOCK = 40  # a blocking key shared by more records adds only its newest pairs
U_PAIRS = 200_000
EM_PAIRS = 300_000
EM_ITERATIONS = 40
EM_TOLERANCE = 1e-6
SESSION_PRIOR = 0.1  # starting share of matches among a session's blocked pairs
MIN_RECORDS_PER_CHILD = 0.5

Pattern = tuple[str, ...]  # one level name per comparison, in COMPARISONS order
Params = dict[str, dict[str, float]]  # comparison -> non-null level -> probability


def _non_null(comp_index: int) -> list[str]:
    return [lv.name for lv in COMPARISONS[comp_index].levels if not lv.is_null]


def _is_null(comp_index: int, level: str) -> bool:
    return any(lv.is_null for lv in COMPARISONS[comp_index].levels if lv.name == level)


def patterns_of(records: Sequence[Features], pairs: Sequence[tuple[int, int]]) -> Counter[Pattern]:
    """How often each combination of levels occurs among the pairs."""
    return Counter(tuple(lv.name for lv in levels_of(records[i], records[j])) for i, j in pairs)


def _frequencies(counts: Counter[Pattern], weights: dict[Pattern, float] | None = None) -> Params:
    """Smoothed share of each non-null level, per comparison, optionally weighted per pattern."""
    params: Params = {}
    for k, comp in enumerate(COMPARISONS):
        tally = dict.fromkeys(_non_null(k), SMOOTHING)
        for pattern, n in counts.items():
            if not _is_null(k, pattern[k]):
                tally[pattern[k]] += n * (weights[pattern] if weights else 1.0)
        total = sum(tally.values())
        params[comp.name] = {level: v / total for level, v in tally.items()}
    return params


def random_pairs(n_records: int, n_pairs: int, rng: random.Random) -> list[tuple[int, int]]:
    pairs = []
    for _ in range(min(n_pairs, n_records * (n_records - 1) // 2)):
        i, j = rng.sample(range(n_records), 2)
        pairs.append((i, j))
    return pairs


def estimate_u(records: Sequence[Features], rng: random.Random, n_pairs: int = U_PAIRS) -> Params:
    return _frequencies(patterns_of(records, random_pairs(len(records), n_pairs, rng)))


def _dob_key(f: Features) -> list[str]:
    return [f.dob] if f.dob else []


def _name_key(f: Features) -> list[str]:
    if not f.given or not f.family:
        return []
    return [f"{given_key(f.given[0])}|{phonetic(''.join(f.family))}"]


@dataclass(frozen=True, slots=True)
class Session:
    """One EM session: how pairs are blocked, and the comparisons it may not estimate."""

    name: str
    keys: Callable[[Features], list[str]]
    blocked_on: frozenset[str]


SESSIONS = (
    Session("birth date", _dob_key, frozenset({"date_of_birth"})),
    Session("names", _name_key, frozenset({"given_name", "family_name"})),
)


def blocked_pairs(records: Sequence[Features], rng: random.Random,
                  limit: int = EM_PAIRS,
                  keys: Callable[[Features], list[str]] = block_keys
                  ) -> tuple[list[tuple[int, int]], int]:
    """Pairs sharing a key (default: the engine's blocking keys) sampled to `limit`, and how
    many there were before sampling."""
    blocks: dict[str, list[int]] = {}
    for i, f in enumerate(records):
        for key in keys(f):
            blocks.setdefault(key, []).append(i)
    pairs = {p for members in blocks.values() for p in combinations(members[-MAX_BLOCK:], 2)}
    ordered = sorted(pairs)
    return (ordered if len(ordered) <= limit else rng.sample(ordered, limit)), len(ordered)


def _likelihood(pattern: Pattern, params: Params, skip: frozenset[str]) -> float:
    value = 1.0
    for k, comp in enumerate(COMPARISONS):
        if comp.name not in skip and not _is_null(k, pattern[k]):
            value *= params[comp.name][pattern[k]]
    return value


def _posteriors(counts: Counter[Pattern], u: Params, m: Params, prior: float,
                skip: frozenset[str]) -> dict[Pattern, float]:
    post = {}
    for pattern in counts:
        lm = prior * _likelihood(pattern, m, skip)
        lu = (1 - prior) * _likelihood(pattern, u, skip)
        post[pattern] = lm / (lm + lu) if lm + lu > 0 else 0.0
    return post


def em(counts: Counter[Pattern], u: Params, m: Params, prior: float,
       skip: frozenset[str] = frozenset(), fit_m: bool = True,
       iterations: int = EM_ITERATIONS) -> tuple[Params, float, int]:
    """m (unless fit_m is False) and the prior by EM, u fixed, ignoring `skip` comparisons.

    Returns (m, prior, iterations run).
    """
    total = sum(counts.values())
    for iteration in range(1, iterations + 1):
        post = _posteriors(counts, u, m, prior, skip)
        new_prior = sum(post[p] * n for p, n in counts.items()) / total
        if fit_m:
            m = _frequencies(counts, post)
        converged = abs(new_prior - prior) < EM_TOLERANCE
        prior = min(max(new_prior, 1e-6), 1 - 1e-6)
        if converged:
            return m, prior, iteration
    return m, prior, iterations


def _session_m(records: Sequence[Features], u: Params, m0: Params, prior0: float,
               rng: random.Random) -> tuple[Params, int]:
    """m of each comparison, averaged over the sessions not blocked on it."""
    estimates: dict[str, list[dict[str, float]]] = {}
    runs = 0
    for session in SESSIONS:
        counts = patterns_of(records, blocked_pairs(records, rng, keys=session.keys)[0])
        if not counts:
            continue
        m, _, n = em(counts, u, m0, prior0, skip=session.blocked_on)
        runs += n
        for comp, levels in m.items():
            if comp not in session.blocked_on:
                estimates.setdefault(comp, []).append(levels)
    averaged = {comp: {lv: sum(e[lv] for e in ests) / len(ests) for lv in ests[0]}
                for comp, ests in estimates.items()}
    return {**m0, **averaged}, runs


def _expected_matches(counts: Counter[Pattern], u: Params, m: Params, n_pairs: int) -> float:
    """Matches among the blocked pairs: the prior fitted by EM with m and u fixed, times pairs."""
    _, prior, _ = em(counts, u, m, SESSION_PRIOR, fit_m=False)
    return prior * n_pairs


class TrainingReport:
    """What training saw: for the command's output, not stored in the model."""

    def __init__(self, records: int, u_pairs: int, em_pairs: int, iterations: int) -> None:
        self.records, self.u_pairs, self.em_pairs = records, u_pairs, em_pairs
        self.iterations = iterations


def train(records: Sequence[Features], start: LinkageModel, version: str,
          seed: int = 1) -> tuple[LinkageModel, TrainingReport]:
    """A new model: u from random pairs, m and prior by EM, thresholds kept from `start`."""
    rng = random.Random(seed)
    u = estimate_u(records, rng)
    m0 = {c: {lv: p.m for lv, p in levels.items()} for c, levels in start.levels.items()}
    m, iterations = _session_m(records, u, m0, SESSION_PRIOR, rng)
    pairs, n_blocked = blocked_pairs(records, rng)
    matched = _expected_matches(patterns_of(records, pairs), u, m, n_blocked)
    levels = {c: {lv: LevelParams(m=m[c][lv], u=u[c][lv]) for lv in u[c]} for c in u}
    per_child = max(2 * matched / max(len(records), 1), MIN_RECORDS_PER_CHILD)
    model = start.model_copy(update={
        "model_version": version, "records_per_child": per_child, "levels": levels,
        "description": f"trained on {len(records)} records: u from random pairs, m by EM"})
    return LinkageModel.model_validate(model.model_dump()), TrainingReport(
        len(records), U_PAIRS, len(pairs), iterations)
