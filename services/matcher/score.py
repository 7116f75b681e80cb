"""The one place a pair of records gets its Fellegi-Sunter score and its explanation."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import attrgetter

from schemas import FieldExplanation
from services.matcher.compare import Predicate
from services.matcher.model import COMPARISONS, Level, LinkageModel
from services.matcher.standardise import Features

__all__ = ["COMPARED", "ScoredPair", "Scorer", "levels_of", "match_weight", "prior_for",
           "prior_weight", "probability", "score_pair"]


def match_weight(m: float, u: float) -> float:
    """log2 of the Bayes factor of one level."""
    return math.log2(m / u)


def prior_weight(prior: float) -> float:
    """log2 of the prior odds of a match."""
    return math.log2(prior / (1 - prior))


def prior_for(model: LinkageModel, population: int) -> float:
    """P(a stored record is the event's child) before comparing: r / N (Fellegi-Sunter's
    lambda over all pairs; blocking only skips pairs that would score low)."""
    n = max(population, model.min_population)
    return min(model.records_per_child / n, 0.5)


def probability(weight: float) -> float:
    """Match probability of a total match weight."""
    return 1 / (1 + 2 ** (-weight))


@dataclass(frozen=True, slots=True)
class ScoredPair:
    """A pair's total weight and, per comparison (in COMPARISONS order), its level, weight
    and the term frequency that replaced u. The explanation is built from these on demand:
    every candidate is scored, but only a decision's best pair is explained."""

    total: float
    prior: float
    levels: Mapping[str, str]
    weights: tuple[float, ...]
    term_frequencies: tuple[float | None, ...]
    vector: tuple[str, ...]  # `levels`'s values alone, in COMPARISONS order: a hashable key

    def level(self, comparison: str) -> str:
        return self.levels[comparison]

    @property
    def explanation(self) -> tuple[FieldExplanation, ...]:
        return tuple(FieldExplanation(comparison=name, level=level, weight=weight,
                                      term_frequency=freq)
                     for (name, level), weight, freq in zip(
                         self.levels.items(), self.weights, self.term_frequencies, strict=True))


def levels_of(a: Features, b: Features) -> tuple[Level, ...]:
    """The pair's level in every comparison, in COMPARISONS order."""
    return tuple(comp.level_of(a, b) for comp in COMPARISONS)


_Compiled = tuple[dict[object, str], Callable[[Features], object],
                  tuple[tuple[str, Predicate], ...]]
_Weighed = dict[str, tuple[float, float | None]]  # level -> (weight, term frequency used)


@dataclass(frozen=True, slots=True)
class _Weights:
    """A model as the scorer reads it, per comparison (COMPARISONS order): level name ->
    (log2(m/u), None), null levels 0; the m of its exact level where a term frequency may
    replace u (else None); its (level name, predicate) pairs in order; and a getter of the
    fields those read (Comparison.reads)."""

    weighed: tuple[_Weighed, ...]
    tf_exact_m: tuple[float | None, ...]
    tests: tuple[tuple[tuple[str, Predicate], ...], ...]
    reads: tuple[Callable[[Features], object], ...]


_WEIGHTS: dict[int, tuple[LinkageModel, _Weights]] = {}


def _weights_of(model: LinkageModel) -> _Weights:
    """The model's weight table, built once per model object (the model is immutable)."""
    cached = _WEIGHTS.get(id(model))
    if cached is not None and cached[0] is model:
        return cached[1]
    weighed: tuple[_Weighed, ...] = tuple({level.name: (0.0 if level.is_null else match_weight(
        model.levels[comp.name][level.name].m, model.levels[comp.name][level.name].u), None)
        for level in comp.levels} for comp in COMPARISONS)
    tf_m = tuple(model.levels[comp.name]["exact"].m if comp.name in model.tf_comparisons
                 else None for comp in COMPARISONS)
    tests = tuple(tuple((level.name, level.test) for level in comp.levels)
                  for comp in COMPARISONS)
    reads = tuple(attrgetter(*comp.reads) for comp in COMPARISONS)
    table = _Weights(weighed, tf_m, tests, reads)
    _WEIGHTS[id(model)] = (model, table)
    return table


class Scorer:
    """score_pair(a, b, ...) for one record `a` and any number of records b.

    A comparison's level is a function of the fields it reads (`Comparison.reads`), so it is
    found once per distinct value of those fields among the b's, and the ScoredPair once per
    distinct level vector. An event's candidates are mostly its own child's earlier records:
    on demo candidates 2 in 3 level vectors repeat, and 66-96% of each comparison's values.
    The returned ScoredPairs may be shared: they are immutable.
    """

    __slots__ = ("_a", "_comparisons", "_pairs", "_prior", "_weighed")

    def __init__(self, a: Features, model: LinkageModel,
                 tf: Mapping[str, float] | None = None, population: int = 0) -> None:
        self._a = a
        table = _weights_of(model)
        self._prior = prior_weight(prior_for(model, population))
        # per comparison: (memo of b's fields -> level name, getter of those fields, tests)
        self._comparisons: tuple[_Compiled, ...] = tuple(
            ({}, read, tests) for read, tests in zip(table.reads, table.tests, strict=True))
        # per comparison: level -> (weight, term frequency); the model's, except where the
        # event's value has a term frequency: then u on the exact level is that frequency
        weighed = list(table.weighed)
        for i, (comp, tf_m) in enumerate(zip(COMPARISONS, table.tf_exact_m, strict=True)):
            freq = tf.get(comp.name) if tf and tf_m is not None else None
            if freq is not None and tf_m is not None:
                weighed[i] = {**weighed[i], "exact": (
                    match_weight(tf_m, max(freq, model.tf_min_u)), freq)}
        self._weighed = tuple(weighed)
        self._pairs: dict[tuple[str, ...], ScoredPair] = {}

    def __call__(self, b: Features) -> ScoredPair:
        a = self._a
        names = []
        for memo, read, tests in self._comparisons:
            key = read(b)
            level = memo.get(key)
            if level is None:
                for level, test in tests:  # noqa: B007 (the level it breaks at is the pair's)
                    if test(a, b):
                        break
                else:
                    raise AssertionError("a comparison has no else level")
                memo[key] = level
            names.append(level)
        vector = tuple(names)
        scored = self._pairs.get(vector)
        if scored is None:
            scored = self._pairs[vector] = self._scored(vector)
        return scored

    def _scored(self, vector: tuple[str, ...]) -> ScoredPair:
        """Total = prior weight + the weight of each comparison's level."""
        weighed = [w[level] for w, level in zip(self._weighed, vector, strict=True)]
        weights = tuple(w for w, _ in weighed)
        return ScoredPair(self._prior + sum(weights), self._prior,
                          dict(zip(COMPARED, vector, strict=True)), weights,
                          tuple(f for _, f in weighed), vector)


COMPARED = tuple(comp.name for comp in COMPARISONS)  # the order of a ScoredPair's levels


def score_pair(a: Features, b: Features, model: LinkageModel,
               tf: Mapping[str, float] | None = None, population: int = 0) -> ScoredPair:
    """Total = prior weight + the weight of each comparison's level (null levels weigh 0).

    `tf` maps a comparison to the frequency of the event's value among stored records; it
    replaces u for that comparison's exact level (Splink's term-frequency rule: an exact
    agreement on a rare value weighs more). `population` is the number of stored records.
    One record against many: `Scorer`.
    """
    return Scorer(a, model, tf, population)(b)
