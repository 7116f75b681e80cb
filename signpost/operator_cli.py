"""The one place for operators' commands: `signpost thresholds|review|split|dashboard` and
`signpost audit search`, with `--json` for scripts. Registered on the main CLI (cli.py).

Each command does what the console does, through the same services/matcher/operations.py:
the caller's token (`--token` or SIGNPOST_TOKEN) names them and their role, and every change
or personal-data read is audited.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console

from signpost.auth import Role
from signpost.security_cli import TokenOption, audit_app, claims_of

if TYPE_CHECKING:
    from services.matcher.operations import Operations

__all__ = ["register"]

thresholds_app = typer.Typer(help="Live match thresholds: show, set, history, evidence.",
                             no_args_is_help=True)
review_app = typer.Typer(help="The review queue of possible matches.", no_args_is_help=True)
console = Console(stderr=True)
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]
ALL_ROLES = (Role.operator, Role.reviewer, Role.auditor)


def _emit(value: Any, as_json: bool, text: str) -> None:
    """Print JSON (pydantic models and lists of them) or the human text."""
    if not as_json:
        typer.echo(text)
        return
    if isinstance(value, BaseModel):
        typer.echo(value.model_dump_json(indent=2))
    else:
        typer.echo(json.dumps(_plain(value), indent=2, default=str))


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@contextlib.contextmanager
def _operations() -> Iterator[Operations]:
    """Operations over the matcher's Redis (SIGNPOST_* settings), audited as `cli`."""
    from services.matcher.console.app import build_operations
    from services.matcher.service import build_engine
    from services.matcher.settings import MatcherSettings

    settings = MatcherSettings()
    ops = build_operations(settings, build_engine(settings), "cli")
    try:
        yield ops
    finally:
        ops.producer.close()


def _fail(exc: Exception) -> typer.Exit:
    console.print(f"refused: {exc}")
    return typer.Exit(1)


@thresholds_app.command("show")
def thresholds_show(token: TokenOption, as_json: JsonOption = False) -> None:
    """The live thresholds and their version."""
    claims_of(token, *ALL_ROLES)
    with _operations() as ops:
        t = ops.thresholds.current()
    _emit(t, as_json, f"version {t.version}: upper {t.upper:g}, lower {t.lower:g}"
                      + (f" (set by {t.actor} at {t.changed_at}: {t.reason})" if t.actor else ""))


@thresholds_app.command("set")
def thresholds_set(
    token: TokenOption,
    upper: Annotated[float, typer.Option(help="link at this score or more")],
    lower: Annotated[float, typer.Option(help="review from this score")],
    reason: Annotated[str, typer.Option(help="why: kept in the audit log")],
    expect_version: Annotated[int | None, typer.Option(
        help="refuse if the live version is not this one")] = None,
    as_json: JsonOption = False,
) -> None:
    """Change the live thresholds (operators); running matchers follow within 5 s."""
    from services.matcher.errors import OperatorError

    claims = claims_of(token, Role.operator)
    with _operations() as ops:
        try:
            new = ops.set_thresholds(claims, upper=upper, lower=lower, reason=reason,
                                     expected_version=expect_version)
        except (OperatorError, ValueError) as exc:
            raise _fail(exc) from exc
    _emit(new, as_json, f"version {new.version}: upper {new.upper:g}, lower {new.lower:g}")


@thresholds_app.command("history")
def thresholds_history(token: TokenOption, as_json: JsonOption = False) -> None:
    """Every change, oldest first: version, values, who, when, why."""
    claims_of(token, *ALL_ROLES)
    with _operations() as ops:
        history = ops.thresholds.history()
    _emit(history, as_json, "\n".join(
        f"v{h.version} {h.changed_at} {h.actor}: upper {h.upper:g}, lower {h.lower:g} "
        f"({h.reason})" for h in history) or "never changed")


def _truth_pairs(events: Path, truth: Path) -> tuple[list[Any], list[float | None]]:
    from services.ingest.validate import Rejection, validate
    from services.matcher.evidence import pairs_from_truth
    from services.matcher.model import load_model
    from services.matcher.settings import MatcherSettings
    from services.matcher.standardise import features
    from signpost.evaluation import read_truth
    from signpost.publish import read_event_lines

    now = datetime.now(UTC)
    records = (features(o) for o in (validate(line, now) for line in read_event_lines(events))
               if not isinstance(o, Rejection))
    return pairs_from_truth(records, read_truth(truth).child_of,
                            load_model(MatcherSettings().model_path))


def _evidence_text(ev: Any) -> str:
    c = ev.at_current
    rows = [f"{'upper':>8}{'precision':>11}{'recall':>9}{'F1':>8}{'review/day':>12}"]
    rows += [f"{r.threshold:>8g}{r.precision:>11.4f}{r.recall:>9.4f}{r.f1:>8.4f}"
             f"{r.review_per_day:>12.1f}" for r in ev.rows]
    rows.append(f"at upper {ev.upper:g}, lower {ev.lower:g}: precision {c.precision:.4f}, "
                f"recall {c.recall:.4f}, F1 {c.f1:.4f}, {c.review_per_day:.1f} reviews/day; "
                f"{ev.pairs} labelled pairs ({ev.matches} matches)")
    return "\n".join(rows)


@thresholds_app.command("evaluate")
def thresholds_evaluate(
    token: TokenOption,
    events: Annotated[Path | None, typer.Option(exists=True, dir_okay=False,
                                                help="contact events JSONL (with --truth)")] = None,
    truth: Annotated[Path | None, typer.Option(
        exists=True, dir_okay=False, help="truth JSONL; default: review verdicts")] = None,
    charts: Annotated[Path | None, typer.Option(file_okay=False, help="write PNGs here")] = None,
    upper: Annotated[float | None, typer.Option(help="default: the live value")] = None,
    lower: Annotated[float | None, typer.Option(help="default: the live value")] = None,
    events_per_day: Annotated[float | None, typer.Option(
        help="default: the last hour's rate times 24")] = None,
    as_json: JsonOption = False,
) -> None:
    """P/R/F1 at every candidate threshold, review load per day, and charts."""
    from services.matcher.charts import CHARTS
    from services.matcher.evidence import build_evidence

    claims_of(token, Role.operator, Role.auditor)
    with _operations() as ops:
        live = ops.thresholds.current()
        up = upper if upper is not None else live.upper
        low = lower if lower is not None else live.lower
        if events is not None and truth is not None:
            pairs, scores = _truth_pairs(events, truth)
            per_day = events_per_day if events_per_day is not None else float(len(scores))
            ev = build_evidence(pairs, up, low, scores, per_day)
        else:
            ev, pairs = ops.evidence(upper=up, lower=low, events_per_day=events_per_day)
    if charts is not None:
        charts.mkdir(parents=True, exist_ok=True)
        for name, draw in CHARTS.items():
            (charts / name).write_bytes(draw(ev, pairs))
        console.print(f"charts: {', '.join(str(charts / n) for n in CHARTS)}")
    _emit(ev, as_json, _evidence_text(ev))


@review_app.command("list")
def review_list(token: TokenOption, limit: int = 50, as_json: JsonOption = False) -> None:
    """Open items, oldest and riskiest first (ids, scores, levels: no personal data)."""
    with _operations() as ops:
        items = ops.queue(claims_of(token, *ALL_ROLES), limit=limit)
    _emit(items, as_json, "\n".join(
        f"{i.review_id}  score {i.score:6.2f}  risk {i.risk:.2f}  {i.created_at:%Y-%m-%d %H:%M}"
        f"  {i.rule or ''}" for i in items) or "nothing waits for review")


@review_app.command("show")
def review_show(review_id: str, token: TokenOption, as_json: JsonOption = False) -> None:
    """One item with both records side by side (personal data: audited)."""
    with _operations() as ops:
        detail = ops.open_review(claims_of(token, Role.operator, Role.reviewer), review_id)
    s = detail.side_by_side
    text = "records no longer held" if s is None else "\n".join(
        f"{f:14} {a:30} {b}" for f, a, b in s.fields)
    _emit(detail, as_json, text)


def _decide(review_id: str, token: str, reason: str | None, accept: bool, as_json: bool) -> None:
    from services.matcher.errors import OperatorError

    claims = claims_of(token, Role.operator, Role.reviewer)
    with _operations() as ops:
        try:
            done = (ops.accept if accept else ops.reject)(claims, review_id, reason)
        except OperatorError as exc:
            raise _fail(exc) from exc
    _emit(done, as_json, f"review {done.review_id}: {done.status.value}")


@review_app.command("accept")
def review_accept(review_id: str, token: TokenOption, reason: str | None = None,
                  as_json: JsonOption = False) -> None:
    """The same child: link (merge the two children); their leads are told."""
    _decide(review_id, token, reason, True, as_json)


@review_app.command("reject")
def review_reject(review_id: str, token: TokenOption, reason: str | None = None,
                  as_json: JsonOption = False) -> None:
    """Different children: the matcher never links them from now on."""
    _decide(review_id, token, reason, False, as_json)


def split(
    child_id: Annotated[str, typer.Argument(help="the wrongly merged child")],
    token: TokenOption,
    record: Annotated[list[str], typer.Option(help="a record (event) id to move; repeat")],
    reason: Annotated[str, typer.Option(help="why: kept in the audit log")],
    into: Annotated[str | None, typer.Option(help="an existing child; default: new")] = None,
    as_json: JsonOption = False,
) -> None:
    """Move records off a child onto a new or existing child; child.links and leads learn."""
    from services.matcher.errors import OperatorError

    claims = claims_of(token, Role.operator)
    with _operations() as ops:
        try:
            result = ops.split(claims, child_id=child_id, record_ids=record, into=into,
                               reason=reason)
        except OperatorError as exc:
            raise _fail(exc) from exc
    value = {"source": result.source, "target": result.target, "moved": list(result.moved),
             "new_child": result.new_child}
    _emit(value, as_json, f"moved {len(result.moved)} records from {result.source} to "
                          f"{result.target}")


def dashboard(token: TokenOption, as_json: JsonOption = False) -> None:
    """The console's dashboard figures: rates, review queue, lag, alerts."""
    from services.matcher.console.dashboard import Dashboard
    from services.matcher.settings import MatcherSettings

    claims_of(token, *ALL_ROLES)
    with _operations() as ops:
        board = Dashboard(MatcherSettings(), ops.index.r, ops.thresholds, ops.reviews)
        try:
            data = board.gather(datetime.now(UTC))
        finally:
            board.close()
    r = data.rates
    lag = [(x.group, x.topic, x.lag) for x in data.lag or []]
    _emit(data, as_json, f"{r.events_per_s:.2f} events/s; {r.counts}; review open "
                         f"{data.review['open']}; lag {lag}")


def audit_search(
    token: TokenOption,
    actor: str = "", action: str = "", child_id: str = "",
    as_json: JsonOption = False,
) -> None:
    """Audit records matching every given field (substring), newest first (audited)."""
    from schemas import AuditAction
    from services.matcher.audit_search import search_audit

    claims = claims_of(token, Role.operator, Role.auditor)
    with _operations() as ops:
        ops.audit.record(actor=claims.sub, role=claims.role.value,
                         action=AuditAction.console_search, target="audit search")
    from services.matcher.settings import MatcherSettings

    settings = MatcherSettings()
    found = search_audit(settings.kafka_bootstrap, settings.topics.audit,
                         {"actor": actor, "action": action, "child_id": child_id})
    _emit(found, as_json, "\n".join(f"{r.seq} {r.at} {r.actor} {r.action.value} "
                                    f"{r.outcome.value} {r.child_id or ''} {r.target or ''}"
                                    for r in found))


def register(app: typer.Typer) -> None:
    """Add the operators' commands to the main CLI."""
    app.add_typer(thresholds_app, name="thresholds")
    app.add_typer(review_app, name="review")
    app.command("split")(split)
    app.command("dashboard")(dashboard)
    audit_app.command("search")(audit_search)
