"""docker-compose.yml and the Dockerfile agree with DESIGN §8 and with the `signpost` CLI."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from signpost.cli import app

ROOT = Path(__file__).resolve().parents[2]
# Service and the port of its /healthz (the settings' defaults).
HTTP_PORTS = {"ingest": 8081, "notifier": 8082, "matcher": 8083}
SECRETS = ("SIGNPOST_BLOCKING_SECRET", "SIGNPOST_WEBHOOK_SECRET", "SIGNPOST_TOKEN_SECRET",
           "SIGNPOST_AGENCY_KEY_HASHES", "SIGNPOST_AGENCY_SIGNING_KEYS", "SIGNPOST_MASTER_KEY")
# Which service must be given which required secret (compose refuses to start without it).
REQUIRED = {"ingest": {"SIGNPOST_AGENCY_KEY_HASHES", "SIGNPOST_AGENCY_SIGNING_KEYS",
                       "SIGNPOST_MASTER_KEY"},
            "matcher": {"SIGNPOST_BLOCKING_SECRET", "SIGNPOST_TOKEN_SECRET", "SIGNPOST_MASTER_KEY"},
            "notifier": {"SIGNPOST_WEBHOOK_SECRET", "SIGNPOST_TOKEN_SECRET"}}
# Optional notifier settings passed through from the host (no value: unset if unset there).
PASS_THROUGH = ("SIGNPOST_WEBHOOK_URL", "SIGNPOST_WEBHOOK_ENDPOINTS", "SIGNPOST_SMTP_HOST",
                "SIGNPOST_SMTP_PORT", "SIGNPOST_SMTP_STARTTLS", "SIGNPOST_SMTP_USER",
                "SIGNPOST_SMTP_PASSWORD", "SIGNPOST_SMTP_FROM")
REQUIRED_VARIABLE = re.compile(r"^\$\{(SIGNPOST_[A-Z_]+):\?[^}]+\}$")

Service = dict[str, Any]


@pytest.fixture(scope="module")
def services() -> dict[str, Service]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    found: dict[str, Service] = compose["services"]
    return found


def built(services: dict[str, Service]) -> dict[str, Service]:
    return {name: s for name, s in services.items() if "build" in s}


def one_shot(services: dict[str, Service]) -> set[str]:
    """Services others wait to finish (service_completed_successfully): jobs, not daemons."""
    return {name for s in services.values() for name, dep in (s.get("depends_on") or {}).items()
            if dep.get("condition") == "service_completed_successfully"}


def resolve(command: list[str]) -> object | None:
    """The CLI command a container's `command` runs (`topics create` is nested), or None.

    Groups are told apart by their `commands` mapping: typer may vendor its own click.
    """
    current: object = typer.main.get_command(app)
    for word in command:
        subcommands = getattr(current, "commands", None)
        if subcommands is None:
            break  # a leaf command: the remaining words are its arguments
        current = subcommands.get(word)
        if current is None:
            return None
    return None if hasattr(current, "commands") else current


def test_kafka_runs_in_kraft_mode(services: dict[str, Service]) -> None:
    kafka = services["kafka"]
    env = kafka["environment"]
    assert kafka["image"].startswith("apache/kafka:")
    assert "controller" in env["KAFKA_PROCESS_ROLES"].split(",")
    assert "broker" in env["KAFKA_PROCESS_ROLES"].split(",")
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@")
    assert not any("zookeeper" in (name + str(s.get("image", ""))).lower()
                   for name, s in services.items())
    assert not any("ZOOKEEPER" in key for key in env)
    assert "kafka-broker-api-versions.sh" in " ".join(kafka["healthcheck"]["test"])


def test_redis_persists(services: dict[str, Service]) -> None:
    redis = services["redis"]
    assert " ".join(redis["command"]).count("--appendonly yes") == 1
    assert any(v.endswith(":/data") for v in redis["volumes"])
    assert redis["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]


def test_named_volumes_are_declared(services: dict[str, Service]) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    for name in ("kafka", "redis"):
        volume = services[name]["volumes"][0].split(":")[0]
        assert volume in compose["volumes"]


def test_every_service_is_built_from_the_one_dockerfile(services: dict[str, Service]) -> None:
    ours = built(services)
    assert set(ours) == {*HTTP_PORTS, "topics"}
    assert {(s["build"]["context"], s["build"]["dockerfile"]) for s in ours.values()} == {
        (".", "Dockerfile")}
    assert len({s["image"] for s in ours.values()}) == 1


def test_commands_exist_in_the_cli(services: dict[str, Service]) -> None:
    for name, service in built(services).items():
        assert resolve(service["command"]) is not None, f"{name}: {service['command']}"


def test_resolve_refuses_unknown_and_incomplete_commands() -> None:
    assert resolve(["no-such-command"]) is None
    assert resolve(["topics"]) is None
    assert resolve(["topics", "create"]) is not None


@pytest.mark.parametrize("name", sorted(HTTP_PORTS))
def test_services_check_their_own_healthz(services: dict[str, Service], name: str) -> None:
    test = " ".join(services[name]["healthcheck"]["test"])
    assert f"http://127.0.0.1:{HTTP_PORTS[name]}/healthz" in test


def test_only_one_shot_jobs_lack_a_healthcheck(services: dict[str, Service]) -> None:
    jobs = one_shot(services)
    assert jobs == {"topics"}
    for name, service in built(services).items():
        assert ("healthcheck" in service) is (name not in jobs), name


@pytest.mark.parametrize("name", sorted(HTTP_PORTS))
def test_services_wait_for_their_dependencies(services: dict[str, Service], name: str) -> None:
    depends = services[name]["depends_on"]
    assert depends["kafka"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"
    assert depends["topics"]["condition"] == "service_completed_successfully"


def test_production_settings(services: dict[str, Service]) -> None:
    for name, service in built(services).items():
        env = service["environment"]
        assert env["SIGNPOST_ENVIRONMENT"] == "production", name
        assert env["SIGNPOST_KAFKA_BOOTSTRAP"] == "kafka:9092", name
        assert env["SIGNPOST_REDIS_URL"] == "redis://redis:6379/0", name
        assert env["SIGNPOST_SESSION_TIMEOUT_MS"] == "10000", name


def test_secrets_are_required_variables(services: dict[str, Service]) -> None:
    given: set[str] = set()
    for service in built(services).values():
        for key, value in service["environment"].items():
            if key in SECRETS:
                match = REQUIRED_VARIABLE.match(str(value))
                assert match and match.group(1) == key, f"{key}={value!r}"
                given.add(key)
    assert given == set(SECRETS)


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_each_service_is_given_the_secrets_it_needs(services: dict[str, Service],
                                                    name: str) -> None:
    env = services[name]["environment"]
    for key in REQUIRED[name]:
        assert REQUIRED_VARIABLE.match(str(env.get(key))), f"{name}: {key}"


def test_optional_notifier_settings_pass_through(services: dict[str, Service]) -> None:
    env = services["notifier"]["environment"]
    for key in PASS_THROUGH:
        assert key in env and env[key] is None, key
    assert str(env["SIGNPOST_INBOX_URL"]).startswith("${SIGNPOST_INBOX_URL:-")


def test_every_variable_is_a_setting(services: dict[str, Service]) -> None:
    from signpost.configdoc import settings_classes

    known = {f"SIGNPOST_{name.upper()}" for _, cls in settings_classes()
             for name in cls.model_fields}
    for name, service in built(services).items():
        unknown = {k for k in service["environment"] if k.startswith("SIGNPOST_")} - known
        assert not unknown, f"{name}: {sorted(unknown)}"


def test_dockerfile_runs_the_cli_as_non_root() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    assert re.search(r"^RUN pip install \.", text, re.M)
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert re.search(r'^ENTRYPOINT \["signpost"\]', text, re.M)
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert scripts["project"]["scripts"]["signpost"] == "signpost.cli:app"


def test_dockerignore_keeps_secrets_and_venv_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".env", ".venv", ".git", "tests"} <= set(ignored)
