"""The one place Signpost's match quality is measured side by side with Splink 5 and recordlinkage.

Not a test; never run in CI. Every system sees the same contact events and is scored by
signpost.evaluation against the same truth:
  - Signpost: the real `signpost match-file` CLI (a subprocess), one event at a time in
    arrival order, no look-ahead.
  - Splink 5 (DuckDB), its documented approach: blocking rules, comparisons from its
    library, u by random sampling, m by EM on a few blocking rules, predict, connected
    components at its 0.95 default; plus the best F1 over thresholds (uses the truth).
  - recordlinkage: sorted-neighbourhood and blocking index, binary string/exact features,
    ECM, connected components.
Splink and recordlinkage see the whole file at once (batch); Signpost never does.

Usage: python bench/accuracy.py [--datasets febrl3 febrl4] [--systems ...]
       [--synthetic-events F --synthetic-truth T] [--work DIR]
Writes bench/results/accuracy.json and bench/results/accuracy.md. Rows of a (dataset, system)
this run measures replace earlier ones; the others are kept, each row stamped with the time
and Signpost revision it was measured at (so a Signpost-only re-run keeps Splink's rows).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd

from signpost.evaluation import Evaluation, Truth, evaluate, format_report, read_truth
from signpost.febrl import FebrlDataset, write_febrl

RESULTS = Path(__file__).resolve().parent / "results"
SPLINK_DEFAULT_THRESHOLD = 0.95  # Splink's documented clustering threshold
SPLINK_PREDICT_FLOOR = 0.001  # pairs kept from predict() for the threshold sweep
SPLINK_U_MAX_PAIRS = 1e7  # FEBRL3 has 12.5M pairs; Splink suggests 1e7 or more
SWEEP_WEIGHTS = [w / 4 for w in range(-40, 121)]  # match weights -10 .. 30, step 0.25
RL_MAX_BLOCK_PAIRS = 2_000_000  # recordlinkage compares pairs in memory, in pandas
SEED = 42
SYSTEMS = ("signpost", "signpost-trained", "splink", "recordlinkage")
UK_POSTCODE = re.compile(r"^[a-z]{1,2}[0-9][a-z0-9]? ?[0-9][a-z]{2}$")
HOUSE_NUMBER = re.compile(r"^(\d+[a-z]?)\s+(.*)$")

Predictions = dict[str, str]  # event_id -> cluster id


@dataclass
class Run:
    """One system on one dataset: what it predicted, how long it took, notes."""

    system: str
    predictions: Predictions
    seconds: float
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Dataset:
    name: str
    events: Path
    truth: Path


# ---------------------------------------------------------------- data as a flat table

def fold(value: object) -> str | None:
    """Lower case, accents and punctuation dropped, spaces collapsed; None when empty."""
    if not isinstance(value, str):
        return None
    text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().lower()
    text = " ".join(re.sub(r"[^a-z0-9 ]", " ", text).split())
    return text or None


def _address_columns(address: Mapping[str, Any] | None) -> dict[str, str | None]:
    address = address or {}
    lines = [fold(line) for line in address.get("lines") or []]
    first = lines[0] if lines else None
    number = HOUSE_NUMBER.match(first) if first else None
    return {"house_number": number.group(1) if number else None,
            "street": number.group(2) if number else first,
            "address_2": lines[1] if len(lines) > 1 else None,
            "town": fold(address.get("town")),
            "postcode": fold(address.get("postcode"))}


def flatten(event: Mapping[str, Any]) -> dict[str, str | None]:
    """The identifying fields of one event as a flat, standardised row (no carers' phones)."""
    child = event["child"]
    carers = event.get("carers") or [{}]
    return {"unique_id": str(event["event_id"]),
            "given_name": fold(child.get("given_name")),
            "family_name": fold(child.get("family_name")),
            "dob": child.get("date_of_birth"),
            "nhs_number": fold(child.get("nhs_number")),
            "carer_family_name": fold(carers[0].get("family_name")),
            **_address_columns(child.get("address"))}


def load_table(events: Path) -> pd.DataFrame:
    with events.open(encoding="utf-8") as fh:
        rows = [flatten(json.loads(line)) for line in fh if line.strip()]
    return pd.DataFrame(rows)


def informative(table: pd.DataFrame, column: str) -> bool:
    """A column worth comparing: at least two distinct non-null values."""
    return bool(table[column].dropna().nunique() >= 2)


# ---------------------------------------------------------------- clustering helpers

class UnionFind:
    """Disjoint sets over event ids; a cluster is named by its smallest member id."""

    def __init__(self, ids: Iterable[str]) -> None:
        self.parent = {i: i for i in ids}

    def root(self, x: str) -> str:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.root(a), self.root(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def clusters(self) -> Predictions:
        return {i: self.root(i) for i in self.parent}


def connected_components(ids: Iterable[str], edges: Iterable[tuple[str, str]]) -> Predictions:
    sets = UnionFind(ids)
    for a, b in edges:
        sets.union(a, b)
    return sets.clusters()


# ---------------------------------------------------------------- Signpost

def signpost_executable() -> list[str]:
    script = Path(sys.executable).with_name("signpost")
    return [str(script)] if script.exists() else [sys.executable, "-m", "signpost.cli"]


def run_signpost(dataset: Dataset, work: Path, trained: bool = False) -> Run:
    """match-file with the shipped model, or (trained) with a model `signpost train` fits on
    this dataset's events first, unsupervised, as Splink's EM does; its time is included."""
    name = "signpost-trained" if trained else "signpost"
    out = work / f"{dataset.name}.{name}.jsonl"
    env = os.environ.copy()
    started = time.perf_counter()
    if trained:
        model = work / f"{dataset.name}.model.json"
        subprocess.run([*signpost_executable(), "train", str(dataset.events), "--out", str(model)],
                       check=True, env=env)
        env["SIGNPOST_MODEL_PATH"] = str(model)
    subprocess.run([*signpost_executable(), "match-file", str(dataset.events), str(out)],
                   check=True, env=env)
    seconds = time.perf_counter() - started
    predictions: Predictions = {}
    rejected = 0
    with out.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["child_id"] is None:
                rejected += 1
            else:
                predictions[str(row["event_id"])] = str(row["child_id"])
    note = "match-file, streaming in arrival order" + (
        ", model trained on this data (unsupervised)" if trained else ", shipped model")
    return Run(name, predictions, seconds, note, {"rejected": rejected})


# ---------------------------------------------------------------- Splink 5

def splink_comparisons(table: pd.DataFrame) -> list[Any]:
    import splink.comparison_library as cl

    uk = table["postcode"].dropna().str.match(UK_POSTCODE).mean() > 0.5
    postcode = (cl.PostcodeComparison("postcode") if uk else
                cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]))
    comparisons = [
        cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("family_name").configure(term_frequency_adjustments=True),
        cl.DateOfBirthComparison("dob", input_is_string=True, datetime_format="%Y-%m-%d"),
        postcode.configure(term_frequency_adjustments=True),
        cl.ExactMatch("house_number").configure(term_frequency_adjustments=True),
        cl.JaroWinklerAtThresholds("street", [0.9, 0.8]),
        cl.JaroWinklerAtThresholds("town", [0.9, 0.8]).configure(
            term_frequency_adjustments=True),
    ]
    if informative(table, "nhs_number"):
        comparisons.append(cl.ExactMatch("nhs_number"))
    if informative(table, "carer_family_name"):
        comparisons.append(cl.NameComparison("carer_family_name"))
    return comparisons


def splink_blocking(table: pd.DataFrame) -> list[Any]:
    from splink import block_on

    rules: list[Any] = [
        block_on("given_name", "family_name"),
        "l.given_name = r.family_name and l.family_name = r.given_name",
        block_on("dob"),
        block_on("postcode"),
        block_on("house_number", "street"),
    ]
    if informative(table, "nhs_number"):
        rules.append(block_on("nhs_number"))
    return rules


def train_splink(table: pd.DataFrame) -> Any:
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    settings = SettingsCreator(
        link_type="dedupe_only", unique_id_column_name="unique_id",
        blocking_rules_to_generate_predictions=splink_blocking(table),
        comparisons=splink_comparisons(table))
    linker = Linker(DuckDBAPI().register(table), settings, log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "family_name", "dob")], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=SPLINK_U_MAX_PAIRS, seed=SEED)
    for rule in (block_on("dob"), block_on("postcode"), block_on("given_name", "family_name")):
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True)
    return linker


def run_splink(table: pd.DataFrame) -> tuple[Run, pd.DataFrame]:
    started = time.perf_counter()
    linker = train_splink(table)
    scored = linker.inference.predict(threshold_match_probability=SPLINK_PREDICT_FLOOR)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        scored, threshold_match_probability=SPLINK_DEFAULT_THRESHOLD)
    frame = clusters.as_pandas_dataframe()
    seconds = time.perf_counter() - started
    predictions = {str(u): str(c) for u, c in zip(frame["unique_id"], frame["cluster_id"],
                                                  strict=True)}
    pairs = scored.as_pandas_dataframe()[["unique_id_l", "unique_id_r", "match_weight"]]
    note = f"DuckDB, EM-trained, clustered at match probability {SPLINK_DEFAULT_THRESHOLD}"
    return Run("splink", predictions, seconds, note), pairs


def best_threshold(pairs: pd.DataFrame, ids: Sequence[str], truth: Truth,
                   seconds: float) -> Run:
    """Splink's best pairwise F1 over match-weight thresholds: uses the truth, an upper bound.

    Thresholds are swept from high to low, adding each pair's edge once (union-find).
    """
    ordered = pairs.sort_values("match_weight", ascending=False)
    edges = list(zip(ordered["unique_id_l"].astype(str), ordered["unique_id_r"].astype(str),
                     ordered["match_weight"], strict=True))
    sets, added = UnionFind(ids), 0
    best: tuple[float, float, Predictions] = (-1.0, 0.0, {})
    for weight in sorted(SWEEP_WEIGHTS, reverse=True):
        while added < len(edges) and edges[added][2] >= weight:
            sets.union(edges[added][0], edges[added][1])
            added += 1
        predictions = sets.clusters()
        score = evaluate(predictions.items(), truth).pairwise.f1
        if score > best[0]:
            best = (score, weight, predictions)
    probability = 1 / (1 + 2 ** -best[1])
    note = (f"best threshold, uses truth: match weight {best[1]:g} "
            f"(probability {probability:.4f})")
    return Run("splink (best threshold, uses truth)", best[2], seconds, note,
               {"match_weight": best[1], "match_probability": probability})


# ---------------------------------------------------------------- recordlinkage ECM

def block_pairs(table: pd.DataFrame, columns: list[str]) -> int:
    """How many candidate pairs blocking on these columns makes (rows with nulls drop out)."""
    sizes = table.dropna(subset=columns).groupby(columns).size()
    return int((sizes * (sizes - 1) // 2).sum())


def block_keys(table: pd.DataFrame, keys: list[str], narrower: list[str]) -> list[str]:
    """`keys`, or `narrower` when `keys` alone would make too many pairs (common postcodes)."""
    return keys if block_pairs(table, keys) <= RL_MAX_BLOCK_PAIRS else narrower


def recordlinkage_features(table: pd.DataFrame) -> pd.DataFrame:
    import recordlinkage as rl

    frame = table.set_index("unique_id")
    index = rl.Index()
    index.sortedneighbourhood("family_name", window=9)
    index.sortedneighbourhood("given_name", window=9)
    for keys in (block_keys(table, ["dob"], ["dob", "postcode"]),
                 block_keys(table, ["postcode"], ["postcode", "house_number"])):
        index.block(keys)
    candidates = index.index(frame)
    compare = rl.Compare()
    for column in ("given_name", "family_name", "street", "town"):
        compare.string(column, column, method="jarowinkler", threshold=0.85, label=column)
    for column in ("dob", "postcode", "house_number", "nhs_number"):
        if informative(table, column):
            compare.exact(column, column, label=column)
    return compare.compute(candidates, frame)


def run_recordlinkage(table: pd.DataFrame) -> Run:
    import recordlinkage as rl

    started = time.perf_counter()
    features = recordlinkage_features(table)
    matches = rl.ECMClassifier(binarize=0.5).fit_predict(features)
    predictions = connected_components(table["unique_id"].astype(str),
                                       ((str(a), str(b)) for a, b in matches))
    seconds = time.perf_counter() - started
    note = f"sorted neighbourhood + blocking, {len(features)} candidate pairs, ECM"
    return Run("recordlinkage ECM", predictions, seconds, note)


# ---------------------------------------------------------------- running and reporting

def row_for(dataset: str, run: Run, evaluation: Evaluation) -> dict[str, Any]:
    return {"dataset": dataset, "system": run.system, "note": run.note,
            "seconds": round(run.seconds, 2),
            "pairwise": evaluation.pairwise.model_dump(),
            "bcubed": evaluation.bcubed.model_dump(),
            "predicted_clusters": evaluation.predicted_clusters,
            "true_clusters": evaluation.true_clusters,
            "hard_negatives": [h.model_dump() for h in evaluation.hard_negatives if h.pairs],
            "alias": evaluation.alias.model_dump(),
            "evaluation": evaluation.model_dump(), **run.extra}


def runs_for(dataset: Dataset, systems: Sequence[str], truth: Truth, work: Path) -> list[Run]:
    runs: list[Run] = []
    if "signpost" in systems:
        runs.append(run_signpost(dataset, work))
    if "signpost-trained" in systems:
        runs.append(run_signpost(dataset, work, trained=True))
    table = load_table(dataset.events)
    if "splink" in systems:
        run, pairs = run_splink(table)
        runs += [run, best_threshold(pairs, list(table["unique_id"]), truth, run.seconds)]
    if "recordlinkage" in systems:
        runs.append(run_recordlinkage(table))
    return runs


def bench_dataset(dataset: Dataset, systems: Sequence[str], work: Path) -> list[dict[str, Any]]:
    truth = read_truth(dataset.truth)
    rows = []
    for run in runs_for(dataset, systems, truth, work):
        evaluation = evaluate(run.predictions.items(), truth)
        print(f"\n== {dataset.name} / {run.system} ({run.seconds:.1f} s) {run.note}")
        print(format_report(evaluation))
        rows.append(row_for(dataset.name, run, evaluation))
    return rows


def _merges(row: Mapping[str, Any]) -> str:
    parts = [f"{h['kind']} {h['merged']}/{h['pairs']}" for h in row["hard_negatives"]]
    return ", ".join(parts) or "n/a"


def _aliases(row: Mapping[str, Any]) -> str:
    alias = row["alias"]
    return f"{alias['linked']}/{alias['events']}" if alias["events"] else "n/a"


def markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    head = ("| dataset | system | pairwise P | pairwise R | pairwise F1 | B-cubed F1 "
            "| clusters (pred / true) | time (s) | hard-negative merges | alias linked |\n"
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |\n")
    body = "".join(
        f"| {r['dataset']} | {r['system']} | {r['pairwise']['precision']:.4f} "
        f"| {r['pairwise']['recall']:.4f} | {r['pairwise']['f1']:.4f} "
        f"| {r['bcubed']['f1']:.4f} | {r['predicted_clusters']} / {r['true_clusters']} "
        f"| {r['seconds']:.1f} | {_merges(r)} | {_aliases(r)} |\n" for r in rows)
    return head + body


def signpost_revision() -> str:
    """The work tree's commit, marked +dirty when it has changes: the engine measured."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=RESULTS.parent, capture_output=True,
                              text=True, check=False)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def environment() -> dict[str, Any]:
    packages = ("splink", "duckdb", "recordlinkage", "pandas", "signpost")
    return {"generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "signpost_revision": signpost_revision(),
            "python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "versions": {p: version(p) for p in packages}}


def _stamped(rows: Iterable[Mapping[str, Any]], env: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows carrying when and on which revision they were measured (kept rows keep theirs)."""
    return [{"generated_at": env.get("generated_at"),
             "signpost_revision": env.get("signpost_revision"), **row} for row in rows]


def merged_rows(new: Sequence[Mapping[str, Any]], old: Sequence[Mapping[str, Any]]
                ) -> list[dict[str, Any]]:
    """The rows of this run, plus every earlier row of a (dataset, system) it did not measure:
    a Signpost-only re-run keeps the Splink and recordlinkage rows. Dataset order, then the
    systems in SYSTEMS order."""
    measured = {(r["dataset"], r["system"]) for r in new}
    rows = [dict(r) for r in new] + [dict(r) for r in old
                                     if (r["dataset"], r["system"]) not in measured]
    datasets = list(dict.fromkeys(r["dataset"] for r in [*old, *new]))
    return sorted(rows, key=lambda r: (datasets.index(r["dataset"]), _system_rank(r["system"]),
                                       r["system"]))


def _system_rank(system: str) -> int:
    """'splink (best threshold, ...)' sorts with 'splink', 'recordlinkage ECM' last."""
    return next((i for i, s in enumerate(SYSTEMS) if system.startswith(s)), len(SYSTEMS))


def write_results(rows: Sequence[Mapping[str, Any]], out: Path) -> None:
    """Write out/accuracy.json and .md, merged with the rows already in out/accuracy.json."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "accuracy.json"
    env = environment()
    old: list[dict[str, Any]] = []
    if path.exists():
        before = json.loads(path.read_text(encoding="utf-8"))
        old = _stamped(before.get("results", []), before)
    all_rows = merged_rows(_stamped(rows, env), old)
    payload = {**env, "results": all_rows}
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    (out / "accuracy.md").write_text(markdown(all_rows), encoding="utf-8")
    print("\n" + markdown(all_rows))


def datasets(args: argparse.Namespace, work: Path) -> list[Dataset]:
    found = []
    for name in args.datasets:
        write_febrl(FebrlDataset(name), work / name)
        found.append(Dataset(name, work / name / "events.jsonl", work / name / "truth.jsonl"))
    if args.synthetic_events:
        found.append(Dataset("synthetic", args.synthetic_events, args.synthetic_truth))
    return found


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--datasets", nargs="*", default=["febrl3", "febrl4"],
                   choices=[d.value for d in FebrlDataset])
    p.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    p.add_argument("--synthetic-events", type=Path)
    p.add_argument("--synthetic-truth", type=Path)
    p.add_argument("--work", type=Path, help="keep converted data and predictions here")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if bool(args.synthetic_events) != bool(args.synthetic_truth):
        p.error("--synthetic-events and --synthetic-truth go together")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    with tempfile.TemporaryDirectory(prefix="signpost-bench-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        rows = [row for d in datasets(args, work) for row in bench_dataset(d, args.systems, work)]
    write_results(rows, args.out)


if __name__ == "__main__":
    main()
