"""Exceptional access on real Redis and Kafka: purpose, a second person, a time limit, every
step and every use audited and reported; `authorise_read` decides and audits each read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from kafka import KafkaProducer
from typer.testing import CliRunner

from schemas.audit import AuditAction, AuditOutcome, AuditRecord
from signpost.access import AccessError, GrantStatus, GrantStore, authorise_read
from signpost.access_api import router as access_router
from signpost.audit import AuditLog, build_audit_log, read_audit_topic
from signpost.audit_report import FindingKind, ReportPolicy, build_report
from signpost.auth import Claims, Role, issue_token
from signpost.cli import app
from signpost.kafka import ensure_topics, make_producer
from signpost.redis import make_redis
from signpost.settings import CommonSettings

pytestmark = pytest.mark.integration

POLICE = Claims(sub="pc-101", role=Role.professional, exp=2**31)
OPERATOR = Claims(sub="op-7", role=Role.operator, exp=2**31)
TEACHER = Claims(sub="t-1", role=Role.professional, exp=2**31)
PURPOSE = "Crime ref 44/1123: missing-child enquiry"
TOKEN_SECRET = "access-test-token-secret"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def producer(common: CommonSettings) -> Iterator[KafkaProducer]:
    ensure_topics(common, [common.topics.audit])
    p = make_producer(common)
    yield p
    p.close()


@pytest.fixture
def audit(common: CommonSettings, producer: KafkaProducer) -> AuditLog:
    return build_audit_log(common, make_redis(common), producer, "test")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def grants(common: CommonSettings, audit: AuditLog, clock: Clock) -> GrantStore:
    return GrantStore(make_redis(common), common.key_prefix, audit, 8 * 3600, now=clock)


def _records(common: CommonSettings) -> list[AuditRecord]:
    return [AuditRecord.model_validate_json(s.value)
            for s in read_audit_topic(common.kafka_bootstrap, common.topics.audit)]


def _read(audit: AuditLog, grants: GrantStore, claims: Claims, child: str = "c-1",
          relationship: bool = False) -> str:
    return authorise_read(audit=audit, grants=grants, claims=claims, action=AuditAction.who_else,
                          child_id=child, has_relationship=relationship).basis


def test_a_grant_needs_a_second_person_and_ends_on_time(
        common: CommonSettings, audit: AuditLog, grants: GrantStore, clock: Clock) -> None:
    assert _read(audit, grants, POLICE) == "none"
    grant = grants.request(claims=POLICE, child_id="c-1", purpose=PURPOSE, duration_s=3600)
    assert _read(audit, grants, POLICE) == "none"  # pending is not approved
    with pytest.raises(AccessError, match="may not approve their own"):
        grants.approve(claims=Claims(sub="pc-101", role=Role.operator, exp=2**31),
                       grant_id=grant.grant_id)
    with pytest.raises(AccessError, match="may not approve"):
        grants.approve(claims=TEACHER, grant_id=grant.grant_id)
    approved = grants.approve(claims=OPERATOR, grant_id=grant.grant_id)
    assert approved.status is GrantStatus.approved and approved.approver == "op-7"
    with pytest.raises(AccessError):
        grants.approve(claims=OPERATOR, grant_id=grant.grant_id)  # decided already
    assert _read(audit, grants, POLICE) == "exceptional"
    assert _read(audit, grants, POLICE, child="c-2") == "none"  # one child only
    assert _read(audit, grants, TEACHER) == "none"  # the grant is the requester's
    clock.now += timedelta(hours=1, seconds=1)
    assert _read(audit, grants, POLICE) == "none"


def test_every_step_and_use_is_audited_and_reported(
        common: CommonSettings, audit: AuditLog, grants: GrantStore) -> None:
    grant = grants.request(claims=POLICE, child_id="c-1", purpose=PURPOSE, duration_s=600)
    grants.approve(claims=OPERATOR, grant_id=grant.grant_id)
    _read(audit, grants, POLICE)
    _read(audit, grants, POLICE)
    grants.revoke(claims=OPERATOR, grant_id=grant.grant_id)
    assert _read(audit, grants, POLICE) == "none"
    assert _read(audit, grants, TEACHER, relationship=True) == "relationship"
    records = _records(common)
    assert [(r.action.value, r.actor, r.outcome.value) for r in records] == [
        ("exceptional_request", "pc-101", "allowed"), ("exceptional_approve", "op-7", "allowed"),
        ("who_else", "pc-101", "allowed"), ("who_else", "pc-101", "allowed"),
        ("exceptional_revoke", "op-7", "allowed"), ("who_else", "pc-101", "refused"),
        ("who_else", "t-1", "allowed")]
    uses = [r for r in records if r.action is AuditAction.who_else and r.grant_id]
    assert all(r.purpose == PURPOSE and r.relationship is False for r in uses)
    assert records[-2].outcome is AuditOutcome.refused and records[-2].grant_id is None
    findings = build_report(records, ReportPolicy()).findings
    exceptional = [f for f in findings if f.kind is FindingKind.exceptional_access]
    assert len(exceptional) == 1 and "2 uses" in exceptional[0].detail
    assert {f.kind for f in findings} == {FindingKind.exceptional_access,
                                          FindingKind.no_relationship}


def test_requests_are_bounded(grants: GrantStore) -> None:
    with pytest.raises(AccessError, match="MAX_S"):
        grants.request(claims=POLICE, child_id="c-1", purpose=PURPOSE, duration_s=9 * 3600)
    with pytest.raises(AccessError, match="may not request"):
        grants.request(claims=OPERATOR, child_id="c-1", purpose=PURPOSE, duration_s=60)
    with pytest.raises(ValueError, match="purpose"):
        grants.request(claims=POLICE, child_id="c-1", purpose="because", duration_s=60)


def test_the_commands_request_approve_and_report(common: CommonSettings,
                                                 env: dict[str, str]) -> None:
    ensure_topics(common, [common.topics.audit])
    runner = CliRunner()
    env = {**env, "SIGNPOST_TOKEN_SECRET": TOKEN_SECRET}

    def token(sub: str, role: Role) -> str:
        return issue_token(TOKEN_SECRET, sub, role)

    asked = runner.invoke(app, ["access", "request", "--child", "c-9", "--purpose", PURPOSE,
                                "--hours", "2", "--token", token("pc-101", Role.professional)],
                          env=env)
    assert asked.exit_code == 0, asked.output
    grant_id = json.loads(asked.stdout)["grant_id"]
    pending = runner.invoke(app, ["access", "pending", "--token", token("op-7", Role.operator)],
                            env=env)
    assert grant_id in pending.stdout
    selfie = runner.invoke(app, ["access", "approve", grant_id, "--token",
                                 token("pc-101", Role.professional)], env=env)
    assert selfie.exit_code == 1 and "refused" in selfie.output
    ok = runner.invoke(app, ["access", "approve", grant_id, "--token",
                             token("op-7", Role.operator)], env=env)
    assert ok.exit_code == 0 and json.loads(ok.stdout)["status"] == "approved"
    denied = runner.invoke(app, ["audit", "report", "--token", token("op-7", Role.operator)],
                           env=env)
    assert denied.exit_code == 2
    report = runner.invoke(app, ["audit", "report", "--json", "--token",
                                 token("aud-1", Role.auditor)], env=env)
    assert report.exit_code == 0, report.output
    (finding,) = json.loads(report.stdout)["findings"]
    assert finding["kind"] == "exceptional_access"
    assert "approved by op-7 (refused attempts: 1)" in finding["detail"]
    assert _records(common)[-1].action is AuditAction.audit_report
    verified = runner.invoke(app, ["audit", "verify"], env=env)
    assert verified.exit_code == 0 and "4 records" in verified.stdout


def test_the_http_router_requests_approves_and_refuses(grants: GrantStore,
                                                       common: CommonSettings) -> None:
    app = FastAPI()
    app.state.grants = grants
    app.state.token_secret = TOKEN_SECRET
    app.include_router(access_router)
    client = TestClient(app)

    def as_(sub: str, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(TOKEN_SECRET, sub, role)}"}

    body = {"child_id": "c-5", "purpose": PURPOSE, "duration_s": 600}
    assert client.post("/v1/exceptional-access", json=body).status_code == 401
    asked = client.post("/v1/exceptional-access", json=body,
                        headers=as_("pc-101", Role.professional))
    assert asked.status_code == 201, asked.text
    grant_id = asked.json()["grant_id"]
    assert client.get("/v1/exceptional-access",
                      headers=as_("pc-101", Role.professional)).status_code == 403
    assert [g["grant_id"] for g in client.get(
        "/v1/exceptional-access", headers=as_("op-7", Role.operator)).json()] == [grant_id]
    own = client.post(f"/v1/exceptional-access/{grant_id}/approve",
                      headers=as_("pc-101", Role.operator))
    assert own.status_code == 403 and "their own" in own.json()["detail"]
    ok = client.post(f"/v1/exceptional-access/{grant_id}/approve",
                     headers=as_("op-7", Role.operator))
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    assert grants.active(sub="pc-101", child_id="c-5") is not None
    assert client.post(f"/v1/exceptional-access/{grant_id}/revoke",
                       headers=as_("pc-101", Role.professional)).json()["status"] == "revoked"
    assert grants.active(sub="pc-101", child_id="c-5") is None
