"""Retention, deletion on request and subject access (issue 5, items 6 and 7), through the
real `signpost` commands on the real broker and Redis: purge removes exactly the due children
(consent exempts from age; the closure policy; a dry run deletes nothing), each purge is one
audit record carrying counts only, forget-child deletes and is audited by count, export-child
writes everything held (a shielded child's location withheld) and is audited, and no command
works without a proper token."""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from schemas import AuditAction, AuditOutcome, AuditRecord, StandardisedEvent
from schemas.subject_access import SubjectAccessExport
from services.ingest.validate import validate
from services.matcher.engine import Engine
from services.matcher.retention import start_purge_schedule
from services.matcher.service import build_engine, outputs
from services.matcher.settings import MatcherSettings
from signpost.audit import read_audit_topic
from signpost.auth import Role, issue_token
from signpost.cli import app
from signpost.kafka import ensure_topics, make_producer
from tests.support.events import make_event
from tests.support.wait import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

TOKEN_SECRET = "privacy-token-secret"
TODAY = datetime.now(UTC).date()


def _born(years_ago: int) -> str:
    return date(TODAY.year - years_ago, 6, 10).isoformat()


# Five children who never match one another: distinct names, dates, places, carers.
ADULT = {"given": "Amelia", "family": "Hartley", "dob": _born(25), "postcode": "LS6 2AB",
         "line": "4 Elm Grove", "town": "Leeds", "carer": ("Joan", "Hartley"),
         "agency_id": "school-1", "record_id": "RA", "practitioner": "t-a"}
CONSENTING = {"given": "Bilal", "family": "Rahman", "dob": _born(24), "sex": "M",
              "postcode": "B11 3QT", "line": "77 Ladypool Road", "town": "Birmingham",
              "carer": ("Nasreen", "Rahman"), "agency_id": "gp-2", "agency_kind": "gp",
              "record_id": "RB", "practitioner": "gp-b"}
YOUNG = {"given": "Chloe", "family": "Nwosu", "dob": _born(10), "postcode": "M14 5RF",
         "line": "3 Oak Street", "town": "Manchester", "carer": ("Ada", "Nwosu"),
         "agency_id": "school-3", "record_id": "RC", "practitioner": "t-c"}
CLOSED = {"given": "Dylan", "family": "Price", "dob": _born(8), "sex": "M",
          "postcode": "CF10 1AA", "line": "9 Bute Street", "town": "Cardiff",
          "carer": ("Megan", "Price"), "agency_id": "hosp-4", "agency_kind": "hospital",
          "record_id": "RD", "practitioner": "h-d"}
HALF_CLOSED = {"given": "Erin", "family": "Walsh", "dob": _born(6), "postcode": "BT9 6AA",
               "line": "21 Malone Road", "town": "Belfast", "carer": ("Siobhan", "Walsh"),
               "agency_id": "school-5", "record_id": "RE", "practitioner": "t-e"}


@pytest.fixture
def settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> MatcherSettings:
    for key, value in (env | {"SIGNPOST_TOKEN_SECRET": TOKEN_SECRET}).items():
        monkeypatch.setenv(key, value)
    s = MatcherSettings()
    ensure_topics(s)
    return s


@pytest.fixture
def engine(settings: MatcherSettings) -> Iterator[Engine]:
    e = build_engine(settings)
    yield e
    e.index.r.close()


def _token(role: Role = Role.operator, sub: str = "op-1") -> str:
    return issue_token(TOKEN_SECRET, sub, role)


def _run(*args: str, token: str | None = None, code: int = 0) -> Any:
    """`signpost ARGS --token T`; the exit code must be `code`; JSON stdout if it is 0."""
    result = CliRunner().invoke(app, [*args, *(["--token", token] if token else [])])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout) if code == 0 and "--json" in args else result


def _process(engine: Engine, **kwargs: Any) -> str:
    std = validate(json.dumps(make_event(**kwargs)).encode(), datetime.now(UTC))
    assert isinstance(std, StandardisedEvent)
    return engine.process(std).decision.child_id


def _audit(settings: MatcherSettings) -> list[AuditRecord]:
    return [AuditRecord.model_validate_json(r.value)
            for r in read_audit_topic(settings.kafka_bootstrap, settings.topics.audit)]


def test_purge_removes_exactly_the_due_children_and_audits_counts_only(
        settings: MatcherSettings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    index = engine.index
    adult, consenting, young = (_process(engine, **c) for c in (ADULT, CONSENTING, YOUNG))
    closed = _process(engine, **CLOSED)
    assert _process(engine, **CLOSED, event_type="closure") == closed
    half = _process(engine, **HALF_CLOSED, event_type="closure")
    assert _process(engine, **HALF_CLOSED | {"agency_id": "gp-5", "agency_kind": "gp",
                                             "record_id": "RF", "practitioner": "gp-e"}) == half
    everyone = {adult, consenting, young, closed, half}
    assert set(index.child_ids()) == everyone
    op = _token()

    _run("consent", consenting, "--granted", "--json", token=op)
    assert index.has_consent(consenting)

    # Refused without a proper token: nothing is deleted.
    _run("purge", code=2)
    _run("purge", token=_token(Role.professional, "sw-1"), code=2)
    _run("purge", token=_token(Role.auditor, "au-1"), code=2)
    _run("purge", token=issue_token("not-the-secret", "op-1", Role.operator), code=2)
    _run("purge", "--today", "2999-01-01", token=op, code=2)  # the future only in a dry run
    dry = _run("purge", "--dry-run", "--json", token=op)
    assert (dry["due"], dry["purged"], dry["checked"]) == ({"age": 1}, 0, 5)
    dry_later = _run("purge", "--dry-run", "--today", f"{TODAY.year + 40}-01-01", "--json",
                     token=op)
    assert dry_later["due"] == {"age": 4}  # all but the consenting one are adults by then
    assert set(index.child_ids()) == everyone

    first = _run("purge", "--json", token=op)
    assert (first["purged"], first["due"], first["records"]) == (1, {"age": 1}, 1)
    assert first["keys"] == 1
    assert set(index.child_ids()) == everyone - {adult}
    assert not index.exists(adult) and index.child_features(adult) == []

    monkeypatch.setenv("SIGNPOST_PURGE_ON_CLOSURE", "true")
    second = _run("purge", "--json", token=op)
    assert (second["purged"], second["due"], second["records"]) == (1, {"closure": 1}, 2)
    assert set(index.child_ids()) == {consenting, young, half}

    _run("consent", consenting, "--withdrawn", "--json", token=op)
    monkeypatch.setenv("SIGNPOST_PURGE_ON_CLOSURE", "false")
    third = _run("purge", "--json", token=op)
    assert third["purged"] == 1 and set(index.child_ids()) == {young, half}

    records = _audit(settings)
    purges = [r for r in records if r.action is AuditAction.purge]
    assert [(r.count, r.actor, r.role, r.child_id) for r in purges] == [
        (1, "op-1", "operator", None)] * 3  # dry runs write nothing; no child id, ever
    assert [r.seq for r in purges] == [first["audit_seq"], second["audit_seq"],
                                       third["audit_seq"]]
    text = " ".join(r.model_dump_json() for r in purges).lower()
    for gone, child in ((adult, ADULT), (closed, CLOSED), (consenting, CONSENTING)):
        assert gone not in text
        assert child["family"].lower() not in text and child["postcode"].lower() not in text
    consents = [(r.child_id, r.target) for r in records if r.action is AuditAction.consent_change]
    assert consents == [(consenting, "consent granted"), (consenting, "consent withdrawn")]


def test_forget_child_deletes_on_request_and_is_audited_as_a_key_deletion_by_count(
        settings: MatcherSettings, engine: Engine) -> None:
    index = engine.index
    child = _process(engine, **YOUNG)
    assert _process(engine, **YOUNG | {"agency_id": "gp-3", "agency_kind": "gp",
                                       "record_id": "G3", "practitioner": "gp-c"}) == child
    other = _process(engine, **ADULT)
    _run("forget-child", child, "--reason", "erasure request ER-17", token=_token(Role.auditor),
         code=2)
    assert index.exists(child)
    done = _run("forget-child", child, "--reason", "erasure request ER-17", "--json",
                token=_token())
    assert (done["records"], done["keys"]) == (2, 2)
    assert not index.exists(child) and index.child_ids() == [other]
    _run("forget-child", child, "--reason", "again", token=_token(), code=1)  # gone already

    (record,) = [r for r in _audit(settings) if r.action is AuditAction.key_delete]
    assert (record.seq, record.count, record.child_id, record.purpose) == (
        done["audit_seq"], 2, None, "erasure request ER-17")
    assert child not in record.model_dump_json()


def _publish_alerts(settings: MatcherSettings, engine: Engine, **event: Any) -> list[str]:
    """Process one event as the service does, sending its decision and alerts to the topics."""
    std = validate(json.dumps(make_event(**event)).encode(), datetime.now(UTC))
    assert isinstance(std, StandardisedEvent)
    result = engine.process(std)
    producer = make_producer(settings)
    for out in outputs(result, settings):
        producer.send(out.topic, out.value, out.key).get(timeout=10)
    producer.close()
    return [str(a.alert_id) for a in result.alerts]


def test_export_child_writes_everything_held_withholds_a_shielded_location_and_is_audited(
        settings: MatcherSettings, engine: Engine, tmp_path: Path) -> None:
    shielded = {"shielded": True, "agency_id": "school-9"}
    alert_ids = _publish_alerts(settings, engine, **shielded)
    alert_ids += _publish_alerts(settings, engine, given="Vicky", agency_id="gp-7",
                                 agency_kind="gp", record_id="G7", practitioner="gp-9")
    alert_ids += _publish_alerts(settings, engine, **shielded, dob="2014-11-02")  # a repeat
    child = engine.index.resolve(_process(engine, **shielded))
    open_child = _process(engine, **YOUNG)
    assert alert_ids
    _run("consent", child, "--granted", token=_token())
    out = tmp_path / "export.json"

    refused = _run("export-child", child, "--out", str(out), token=_token(Role.auditor, "au-1"),
                   code=1)
    assert "may not" in refused.output and not out.exists()
    _run("export-child", child, "--out", str(out), code=2)  # no token at all
    _run("export-child", "Cnosuchchild", "--out", str(out), token=_token(), code=1)
    _run("export-child", child, "--out", str(out), "--purpose", "SAR 2026-114", token=_token())

    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    text = out.read_text(encoding="utf-8")
    export = SubjectAccessExport.model_validate_json(text)
    assert export.child_id == child and export.shielded and export.consent_recorded
    assert {"address", "postcode", "town", "agency_id"} <= set(export.withheld)
    assert any("shielded" in note for note in export.notes)
    for withheld in ("n17", "9ej", "somerset", "london", "school-9", "gp-7", "@agency.example"):
        assert withheld not in text.lower()
    assert [(a.agency_kind.value, a.agency_id, a.agency_record_id, len(a.records))
            for a in export.agency_records] == [("school", None, "R1", 3), ("gp", None, "G7", 1)]
    first = export.agency_records[0].records[0]
    assert (first.given_name, first.family_name, first.date_of_birth, first.sex) == (
        "victoria", "climbie", "2014-11-02", "F")
    assert (first.postcode, first.address, first.town) == (None, None, None)
    assert [(c.given_name, c.family_name) for c in first.carers] == [("marie therese", "kouao")]
    assert {(p.contact.practitioner_id, p.contact.name, p.contact.email, p.agency_id)
            for p in export.practitioners} == {("t-1", None, None, None),
                                               ("gp-9", None, None, None)}
    assert sorted(str(a.alert_id) for a in export.alerts) == sorted(set(alert_ids))
    assert all(a.recipients for a in export.alerts)
    accesses = [(a.actor, a.action, a.outcome, a.purpose) for a in export.accesses]
    assert accesses == [
        ("op-1", AuditAction.consent_change, AuditOutcome.allowed, None),
        ("au-1", AuditAction.export, AuditOutcome.refused, "subject access request"),
        ("op-1", AuditAction.export, AuditOutcome.allowed, "SAR 2026-114")]
    exports = [r for r in _audit(settings) if r.action is AuditAction.export]
    assert [(r.child_id, r.outcome) for r in exports] == [
        (child, AuditOutcome.refused), (child, AuditOutcome.allowed)]

    plain = tmp_path / "open.json"
    _run("export-child", open_child, "--out", str(plain), token=_token())
    other = SubjectAccessExport.model_validate_json(plain.read_text(encoding="utf-8"))
    assert not other.shielded and other.withheld == [] and other.alerts == []
    (record,) = other.agency_records[0].records
    assert (other.agency_records[0].agency_id, record.postcode, record.town) == (
        "school-3", "M14 5RF", "manchester")
    assert [a.action for a in other.accesses] == [AuditAction.export]


def test_the_matchers_schedule_purges_once_per_interval_and_audits_it(
        settings: MatcherSettings, engine: Engine) -> None:
    adult = _process(engine, **ADULT)
    young = _process(engine, **YOUNG)
    every = settings.model_copy(update={"purge_interval_s": 60.0})
    stop = threading.Event()
    threads = [start_purge_schedule(every, engine.index, stop) for _ in range(2)]  # 2 matchers
    try:
        wait_until(lambda: not engine.index.exists(adult), timeout_s=30)
    finally:
        stop.set()
        for t in threads:
            assert t is not None
            t.join(timeout=30)
    assert engine.index.child_ids() == [young]
    purges = [r for r in _audit(settings) if r.action is AuditAction.purge]
    assert [(r.actor, r.role, r.count, r.child_id) for r in purges] == [
        ("retention", "service", 1, None)]
    assert start_purge_schedule(settings.model_copy(update={"purge_interval_s": 0}),
                                engine.index, stop) is None
