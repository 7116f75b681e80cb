"""The one place a pair of records gets its Fellegi-Sunter score and its explanation."""

from __future__ import annotations

import math
from dataclasses import dataclass

from schemas import FieldExplanation
from services.matcher.model import COMPARISONS, LinkageModel
from services.matcher.standardise import Features

__all__ = ["ScoredPair", "match_weight", "prior_weight", "probability", "score_pair"]


def match_weight(m: float, u: float) -> float:
    """log2 of the Bayes factor of one level."""
    return math.log2(m / u)


def prior_weight(prior: float) -> float:
    """log2 of the prior odds of a match."""
    return math.log2(prior / (1 - prior))


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


def score_pair(a: Features, b: Features, model: LinkageModel) -> ScoredPair:
    """Total = prior weight + the weight of each comparison's level (null levels weigh 0)."""
    prior = prior_weight(model.prior)
    parts = []
    for comp in COMPARISONS:
        level = comp.level_of(a, b)
        weight = 0.0
        if not level.is_null:
            params = model.levels[comp.name][level.name]
            weight = match_weight(params.m, params.u)
        parts.append(FieldExplanation(comparison=comp.name, level=level.name, weight=weight))
    return ScoredPair(prior + sum(p.weight for p in parts), prior, tuple(parts))
