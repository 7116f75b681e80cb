"""The one place a pair of records gets its Fellegi-Sunter score and its explanation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from schemas import FieldExplanation
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
    total: float
    prior: float
    explanation: tuple[FieldExplanation, ...]

    def level(self, comparison: str) -> str:
        return next(e.level for e in self.explanation if e.comparison == comparison)


def levels_of(a: Features, b: Features) -> tuple[Level, ...]:
    """The pair's level in every comparison, in COMPARISONS order."""
    return tuple(comp.level_of(a, b) for comp in COMPARISONS)


def _weight(model: LinkageModel, comparison: str, level: Level,
            term_frequency: float | None) -> float:
    """A level's weight; an exact agreement on a rare value weighs more (Splink's TF rule)."""
    if level.is_null:
        return 0.0
    params = model.levels[comparison][level.name]
    if term_frequency is not None and level.name == "exact":
        return match_weight(params.m, max(term_frequency, model.tf_min_u))
    return match_weight(params.m, params.u)


def score_pair(a: Features, b: Features, model: LinkageModel,
               tf: Mapping[str, float] | None = None, population: int = 0) -> ScoredPair:
    """Total = prior weight + the weight of each comparison's level (null levels weigh 0).

    `tf` maps a comparison to the frequency of the event's value among stored records; it
    replaces u for that comparison's exact level. `population` is the number of stored records.
    """
    prior = prior_weight(prior_for(model, population))
    parts = []
    for comp, level in zip(COMPARISONS, levels_of(a, b), strict=True):
        freq = tf.get(comp.name) if tf and comp.name in model.tf_comparisons else None
        weight = _weight(model, comp.name, level, freq)
        parts.append(FieldExplanation(comparison=comp.name, level=level.name, weight=weight,
                                      term_frequency=freq if level.name == "exact" else None))
    return ScoredPair(prior + sum(p.weight for p in parts), prior, tuple(parts))
