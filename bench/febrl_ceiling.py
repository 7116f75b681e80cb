"""How much of FEBRL a linker can find under two ceilings: a twin-safe one, and a stricter one
under Signpost's own decision rules (and, beside it, under the rules and the current scores).

*Twin-safe ceiling.* A *twin-shaped* pair: given names that are unrelated (Signpost's
given-name level `else`: not equal, equivalent, phonetic, close, similar, swapped or a middle
name), a family name that agrees at some level, and the same birth date (or its day and month
swapped). FEBRL carries no NHS number, carer or sex, so nothing in such a pair tells a record
with a replaced given name from a twin. Even letting every other true pair link, and closing
transitively within each true cluster (A~B and B~C joins A and C), the recall below is the most
a system can reach on FEBRL without linking twin-shaped pairs. Issue 3's targets (0.99, 0.995)
lie above it.

*Rules ceiling.* Each true pair (two records of one FEBRL person) is scored with the real
scorer (`score_pair`, the shipped model, `population` = the dataset's number of records, no
term frequencies) and capped with the real rules (`cap_of`), the later event of the events
file (arrival order) against the earlier record. A pair is *linkable under the rules* if its
cap is `Band.link`; the pairs that are not are counted by the rule that caps them. Closing
transitively over the linkable true pairs only, recall is the share of true pairs inside the
resulting clusters, at precision 1. *Rules and scores* further needs the pair's total weight
to reach the model's upper (link) threshold, so it is the rules ceiling with today's model.
Both are upper bounds: they ignore blocking, candidate limits, the order in which clusters
form and false links.

Usage: python bench/febrl_ceiling.py [--out bench/results/febrl_ceiling.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from schemas import StandardisedEvent
from services.ingest.validate import validate
from services.matcher.model import COMPARISONS, default_model
from services.matcher.rules import DOB_SAME, Band, cap_of
from services.matcher.score import score_pair
from services.matcher.standardise import Features, features
from signpost.febrl import FebrlDataset, convert

LEVELS = {c.name: c for c in COMPARISONS}


def twin_shaped(a: Features, b: Features) -> bool:
    return (LEVELS["given_name"].level_of(a, b).name == "else"
            and LEVELS["family_name"].level_of(a, b).name != "else"
            and LEVELS["date_of_birth"].level_of(a, b).name in DOB_SAME)


def reachable_pairs(members: list[str], links: Iterable[tuple[str, str]]) -> int:
    """True pairs inside the clusters that `links` (pairs of members) close transitively."""
    parent = {m: m for m in members}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in links:
        parent[root(a)] = root(b)
    sizes = Counter(root(m) for m in members)
    return sum(n * (n - 1) // 2 for n in sizes.values())


def _f1(recall: float) -> float:
    return round(2 * recall / (1 + recall), 4)


def ceiling(dataset: FebrlDataset) -> dict[str, object]:
    events, truth = convert(dataset)
    now = datetime.now(UTC)
    model = default_model()
    feats: dict[str, Features] = {}
    arrival: dict[str, int] = {}
    for position, e in enumerate(events):
        std = validate(json.dumps(e).encode(), now)
        assert isinstance(std, StandardisedEvent)
        event_id = str(std.event.event_id)
        feats[event_id] = features(std)
        arrival[event_id] = position
    population = len(feats)
    clusters: dict[str, list[str]] = defaultdict(list)
    for row in truth:
        clusters[row["child_id"]].append(row["event_id"])
    pairs = shaped = 0
    reach_twin_safe = reach_rules = reach_scores = 0
    linkable = linkable_scored = 0
    blocked: Counter[str] = Counter()
    for members in clusters.values():
        twin_safe_links: list[tuple[str, str]] = []
        rule_links: list[tuple[str, str]] = []
        score_links: list[tuple[str, str]] = []
        for a, b in itertools.combinations(members, 2):
            pairs += 1
            if twin_shaped(feats[a], feats[b]):
                shaped += 1
            else:
                twin_safe_links.append((a, b))
            record, event = sorted((a, b), key=arrival.__getitem__)
            scored = score_pair(feats[event], feats[record], model, population=population)
            band, rule = cap_of(feats[event], feats[record], scored)
            if band is not Band.link:
                assert rule is not None  # only a rule caps a pair below link
                blocked[rule] += 1
                continue
            linkable += 1
            rule_links.append((a, b))
            if scored.total >= model.upper:
                linkable_scored += 1
                score_links.append((a, b))
        reach_twin_safe += reachable_pairs(members, twin_safe_links)
        reach_rules += reachable_pairs(members, rule_links)
        reach_scores += reachable_pairs(members, score_links)
    recall = reach_twin_safe / pairs
    rules_recall = reach_rules / pairs
    scores_recall = reach_scores / pairs
    return {"dataset": dataset.value, "true_pairs": pairs, "twin_shaped_pairs": shaped,
            "twin_shaped_share": round(shaped / pairs, 4), "max_recall": round(recall, 4),
            "max_f1_at_precision_1": _f1(recall),
            "rules": {
                "linkable_pairs": linkable,
                "blocked_pairs": pairs - linkable,
                "blocked_by_rule": dict(blocked.most_common()),
                "max_recall": round(rules_recall, 4),
                "max_f1_at_precision_1": _f1(rules_recall),
            },
            "rules_and_scores": {
                "upper_threshold": model.upper,
                "linkable_pairs_at_or_above_upper": linkable_scored,
                "max_recall": round(scores_recall, 4),
                "max_f1_at_precision_1": _f1(scores_recall),
            }}


NOTE = ("max_recall / max_f1_at_precision_1: twin-safe ceiling (no twin-shaped true pair "
        "links directly; transitive closure over the other true pairs). rules: true pairs "
        "scored with score_pair (shipped model, population = the dataset's record count, no "
        "term frequencies) and capped with cap_of, later event of the events file against "
        "the earlier record; only pairs capped at Band.link link, closed transitively; "
        "blocked_by_rule counts the other true pairs by the rule that caps them. "
        "rules_and_scores: linkable pairs whose total weight also reaches the model's upper "
        "threshold. All at precision 1; upper bounds (no blocking, candidate limits or false "
        "links).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/febrl_ceiling.json"))
    args = parser.parse_args()
    rows = [ceiling(d) for d in (FebrlDataset.febrl3, FebrlDataset.febrl4)]
    result = {"benchmark": "febrl_ceiling", "rows": rows, "note": NOTE,
              "model_version": default_model().model_version,
              "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
