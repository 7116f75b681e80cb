"""How much of FEBRL any twin-safe linker can find: the share of FEBRL's true pairs that look
exactly like twins, and the best pairwise recall and F1 left when such pairs never link directly.

A *twin-shaped* pair: given names that are unrelated (Signpost's given-name level `else`: not
equal, equivalent, phonetic, close, similar, swapped or a middle name), a family name that
agrees at some level, and the same birth date (or its day and month swapped). FEBRL carries no
NHS number, carer or sex, so nothing in such a pair tells a record with a replaced given name
from a twin. Even letting every other true pair link, and closing transitively within each true
cluster (A~B and B~C joins A and C), the recall below is the most a system can reach on FEBRL
without linking twin-shaped pairs. Issue 3's targets (0.99, 0.995) lie above it.

Usage: python bench/febrl_ceiling.py [--out bench/results/febrl_ceiling.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from schemas import StandardisedEvent
from services.ingest.validate import validate
from services.matcher.model import COMPARISONS
from services.matcher.rules import DOB_SAME
from services.matcher.standardise import Features, features
from signpost.febrl import FebrlDataset, convert

LEVELS = {c.name: c for c in COMPARISONS}


def twin_shaped(a: Features, b: Features) -> bool:
    return (LEVELS["given_name"].level_of(a, b).name == "else"
            and LEVELS["family_name"].level_of(a, b).name != "else"
            and LEVELS["date_of_birth"].level_of(a, b).name in DOB_SAME)


def ceiling(dataset: FebrlDataset) -> dict[str, object]:
    events, truth = convert(dataset)
    now = datetime.now(UTC)
    feats = {}
    for e in events:
        std = validate(json.dumps(e).encode(), now)
        assert isinstance(std, StandardisedEvent)
        feats[str(std.event.event_id)] = features(std)
    clusters: dict[str, list[str]] = defaultdict(list)
    for row in truth:
        clusters[row["child_id"]].append(row["event_id"])
    pairs = shaped = reachable = 0
    for members in clusters.values():
        parent = {m: m for m in members}

        def root(x: str, parent: dict[str, str] = parent) -> str:
            while parent[x] != x:
                x = parent[x]
            return x

        for a, b in itertools.combinations(members, 2):
            pairs += 1
            if twin_shaped(feats[a], feats[b]):
                shaped += 1
            else:
                parent[root(a)] = root(b)
        sizes: dict[str, int] = defaultdict(int)
        for m in members:
            sizes[root(m)] += 1
        reachable += sum(n * (n - 1) // 2 for n in sizes.values())
    recall = reachable / pairs
    return {"dataset": dataset.value, "true_pairs": pairs, "twin_shaped_pairs": shaped,
            "twin_shaped_share": round(shaped / pairs, 4), "max_recall": round(recall, 4),
            "max_f1_at_precision_1": round(2 * recall / (1 + recall), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/febrl_ceiling.json"))
    args = parser.parse_args()
    rows = [ceiling(d) for d in (FebrlDataset.febrl3, FebrlDataset.febrl4)]
    result = {"benchmark": "febrl_ceiling", "rows": rows,
              "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
