"""Who else? over real HTTP, on the matcher's real Redis state (the engine links the events).

A professional on the child's record learns which services are in contact and who leads;
anyone else gets 403. Both are records of the audit log.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from schemas.audit import AuditAction, AuditOutcome, AuditRecord
from services.ingest.validate import Rejection, validate
from services.matcher.api import serve_api_in_thread
from services.matcher.service import build_engine
from services.matcher.settings import MatcherSettings
from signpost.audit import read_audit_topic
from signpost.auth import Role, issue_token
from signpost.embedded import free_port
from signpost.kafka import ensure_topics, make_producer
from tests.support.events import make_event
from tests.support.wait import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

TOKEN_SECRET = "who-else-token-secret"


@pytest.fixture
def settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> MatcherSettings:
    for key, value in (env | {"SIGNPOST_TOKEN_SECRET": TOKEN_SECRET,
                              "SIGNPOST_MATCHER_HTTP_PORT": str(free_port())}).items():
        monkeypatch.setenv(key, value)
    return MatcherSettings()


def _link(settings: MatcherSettings, *events: dict[str, object]) -> list[str]:
    """Run the matcher's engine over the events; their child ids."""
    engine = build_engine(settings, shared=False)
    ids = []
    for event in events:
        std = validate(json.dumps(event).encode(), datetime.now(UTC))
        assert not isinstance(std, Rejection)
        ids.append(engine.process(std).decision.child_id)
    return ids


@pytest.fixture
def http(settings: MatcherSettings) -> Iterator[httpx.Client]:
    ensure_topics(settings, [settings.topics.audit])
    producer = make_producer(settings)
    server = serve_api_in_thread(settings, producer)
    assert server is not None
    with httpx.Client(base_url=f"http://127.0.0.1:{settings.matcher_http_port}",
                      timeout=5) as client:
        wait_until(lambda: client.get("/healthz").status_code == 200, timeout_s=10)
        yield client
    server.should_exit = True
    producer.close()


def _audited(settings: MatcherSettings) -> list[AuditRecord]:
    return [AuditRecord.model_validate_json(s.value)
            for s in read_audit_topic(settings.kafka_bootstrap, settings.topics.audit)]


def _as(sub: str, role: Role = Role.professional) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(TOKEN_SECRET, sub, role)}"}


def _one_child(settings: MatcherSettings, shielded: bool = False) -> str:
    school = make_event(agency_id="school-1", agency_kind="school", record_id="S-1",
                        practitioner="teacher-1", lead=True, shielded=shielded)
    gp = make_event(agency_id="gp-1", agency_kind="gp", record_id="G-1", practitioner="gp-9",
                    lead=False, shielded=shielded)
    first, second = _link(settings, school, gp)
    assert first == second
    return first


def test_a_professional_on_the_record_learns_who_else(
    settings: MatcherSettings, http: httpx.Client
) -> None:
    child = _one_child(settings)
    answer = http.get(f"/v1/who-else/{child}", headers=_as("gp-9"))
    assert answer.status_code == 200
    body = answer.json()
    assert body["agency_kinds"] == ["gp", "school"]
    assert [c["practitioner_id"] for c in body["lead_professionals"]] == ["teacher-1"]
    assert body["lead_professionals"][0]["email"] == "teacher-1@agency.example"
    assert body["others"] == []
    text = answer.text
    assert "Victoria" not in text and "N17" not in text and "2014" not in text

    assert http.get(f"/v1/who-else/{child}", headers=_as("sw-77")).status_code == 403
    assert http.get(f"/v1/who-else/C{uuid.uuid4().hex[:20]}",
                    headers=_as("gp-9")).status_code == 403
    assert http.get(f"/v1/who-else/{child}", headers=_as("op-1", Role.operator)
                    ).status_code == 403
    assert http.get(f"/v1/who-else/{child}").status_code == 401
    audit = [(r.actor, r.outcome, r.child_id, r.relationship) for r in _audited(settings)
             if r.action is AuditAction.who_else]
    assert ("sw-77", AuditOutcome.refused, child, False) in audit
    assert ("gp-9", AuditOutcome.allowed, child, True) in audit
    assert ("op-1", AuditOutcome.refused, child, False) in audit
    assert len(audit) == 4  # the unauthenticated request is no read: 401 before any lookup


def test_a_shielded_child_has_no_contact_details(settings: MatcherSettings,
                                                 http: httpx.Client) -> None:
    child = _one_child(settings, shielded=True)
    body = http.get(f"/v1/who-else/{child}", headers=_as("gp-9")).json()
    assert body["shielded"] is True
    [lead] = body["lead_professionals"]
    assert (lead["name"], lead["role"], lead["email"], lead["phone"]) == (None,) * 4


def test_who_else_by_the_callers_own_agency_record_id(
    settings: MatcherSettings, http: httpx.Client
) -> None:
    child = _one_child(settings)
    answer = http.get("/v1/who-else/by-record/gp-1/G-1", headers=_as("gp-9"))
    assert answer.status_code == 200
    assert answer.json()["child_id"] == child
    assert [c["practitioner_id"] for c in answer.json()["lead_professionals"]] == ["teacher-1"]
    assert http.get("/v1/who-else/by-record/gp-1/G-1", headers=_as("sw-77")).status_code == 403
    assert http.get("/v1/who-else/by-record/gp-1/NOPE", headers=_as("gp-9")).status_code == 403
    assert http.get("/v1/who-else/by-record/gp-1/G-1").status_code == 401
