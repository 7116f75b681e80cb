"""The one place a pair of records gets its Fellegi-Sunter score and its explanation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from schemas import FieldExplanation
from services.matcher.compare import Predicate
from services.matcher.model import COMPARISONS, Level, LinkageModel
from services.matcher.standardise import Features

__all__ = ["ScoredPair", "levels_of", "match_weight", "prior_for", "prior_weight",
           "probability", "score_pair"]


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


@dataclass(frozen=True, slots=True)
class _Weights:
    """A model's weights as the scorer reads them: per comparison, level name -> log2(m/u)
    (null levels 0), and the m of the exact level where a term frequency may replace u."""

    by_level: tuple[dict[str, float], ...]
    tf_exact_m: tuple[float | None, ...]
    # per comparison (COMPARISONS order): its name, its (level name, predicate) in order, its
    # weights by level and its exact level's m (None: no term frequency)
    compiled: tuple[tuple[str, tuple[tuple[str, Predicate], ...], dict[str, float],
                          float | None], ...] = ()


_WEIGHTS: dict[int, tuple[LinkageModel, _Weights]] = {}


def _weights_of(model: LinkageModel) -> _Weights:
    """The model's weight table, built once per model object (the model is immutable)."""
    cached = _WEIGHTS.get(id(model))
    if cached is not None and cached[0] is model:
        return cached[1]
    by_level = tuple({level.name: 0.0 if level.is_null else match_weight(
        model.levels[comp.name][level.name].m, model.levels[comp.name][level.name].u)
        for level in comp.levels} for comp in COMPARISONS)
    tf_m = tuple(model.levels[comp.name]["exact"].m if comp.name in model.tf_comparisons
                 else None for comp in COMPARISONS)
    compiled = tuple((comp.name, tuple((level.name, level.test) for level in comp.levels),
                      weights, m) for comp, weights, m in zip(COMPARISONS, by_level, tf_m,
                                                               strict=True))
    table = _Weights(by_level, tf_m, compiled)
    _WEIGHTS[id(model)] = (model, table)
    return table


def score_pair(a: Features, b: Features, model: LinkageModel,
               tf: Mapping[str, float] | None = None, population: int = 0) -> ScoredPair:
    """Total = prior weight + the weight of each comparison's level (null levels weigh 0).

    `tf` maps a comparison to the frequency of the event's value among stored records; it
    replaces u for that comparison's exact level (Splink's term-frequency rule: an exact
    agreement on a rare value weighs more). `population` is the number of stored records.
    """
    table = _weights_of(model)
    prior = prior_weight(prior_for(model, population))
    levels: dict[str, str] = {}
    weights: list[float] = []
    freqs: list[float | None] = []
    for name, tests, by_level, tf_m in table.compiled:  # model.Comparison.level_of, inlined
        for level, test in tests:  # noqa: B007 (the level it breaks at is the pair's)
            if test(a, b):
                break
        else:
            raise AssertionError(f"comparison {name} has no else level")
        levels[name] = level
        freq = tf.get(name) if tf and tf_m is not None and level == "exact" else None
        if freq is not None and tf_m is not None:
            weights.append(match_weight(tf_m, max(freq, model.tf_min_u)))
        else:
            weights.append(by_level[level])
        freqs.append(freq)
    return ScoredPair(prior + sum(weights), prior, levels, tuple(weights), tuple(freqs))
