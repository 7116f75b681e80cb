"""SIGNPOST_KAFKA_* settings become the same kafka-python keyword arguments for every client."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr

from signpost.errors import ConfigError
from signpost.kafka import client_options, consumer_options, security_options
from signpost.settings import CommonSettings

ROOT = Path(__file__).resolve().parents[2]
CLIENT = re.compile(r"\bKafka(Producer|Consumer|AdminClient)\(")
#: The only modules that construct Kafka clients; both take the security options.
BUILDERS = {"signpost/kafka.py", "signpost/audit.py"}

SASL_SSL = {
    "SIGNPOST_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "SIGNPOST_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "SIGNPOST_KAFKA_SASL_USERNAME": "signpost-notifier",
    "SIGNPOST_KAFKA_SASL_PASSWORD": "s3cret-password",
    "SIGNPOST_KAFKA_SSL_CAFILE": "/etc/signpost/ca.pem",
}


Make = Callable[[dict[str, str]], CommonSettings]


@pytest.fixture
def settings_from(monkeypatch: pytest.MonkeyPatch) -> Make:
    """CommonSettings read from the environment with `values` set."""

    def _make(values: dict[str, str]) -> CommonSettings:
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        return CommonSettings()
    return _make


# (description, environment, expected security options)
CASES = [
    ("nothing set: plaintext", {}, {"security_protocol": "PLAINTEXT"}),
    ("TLS only, own CA", {"SIGNPOST_KAFKA_SECURITY_PROTOCOL": "SSL",
                          "SIGNPOST_KAFKA_SSL_CAFILE": "/ca.pem"},
     {"security_protocol": "SSL", "ssl_cafile": "/ca.pem"}),
    ("SASL over TLS", SASL_SSL,
     {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
      "sasl_plain_username": "signpost-notifier", "sasl_plain_password": "s3cret-password",
      "ssl_cafile": "/etc/signpost/ca.pem"}),
]


@pytest.mark.parametrize(("description", "values", "expected"), CASES,
                         ids=[c[0] for c in CASES])
def test_settings_map_to_kafka_python_arguments(settings_from: Make, description: str,
                                                values: dict[str, str],
                                                expected: dict[str, str]) -> None:
    settings = settings_from(values)
    assert security_options(settings) == expected
    assert client_options(settings) == {"bootstrap_servers": settings.kafka_bootstrap,
                                        **expected}


def test_every_consumer_gets_them_and_fetch_wait_only_when_asked(settings_from: Make) -> None:
    settings = settings_from(SASL_SSL)
    options = consumer_options(settings, "g1")
    assert options["sasl_plain_password"] == "s3cret-password"
    assert options["group_id"] == "g1" and options["enable_auto_commit"] is False
    assert "fetch_max_wait_ms" not in options
    assert consumer_options(settings, "g1", fetch_max_wait_ms=20)["fetch_max_wait_ms"] == 20


def test_the_password_stays_secret(settings_from: Make) -> None:
    settings = settings_from(SASL_SSL)
    assert isinstance(settings.kafka_sasl_password, SecretStr)
    assert "s3cret-password" not in repr(settings) and "s3cret-password" not in str(settings)


@pytest.mark.parametrize("missing", ["SIGNPOST_KAFKA_SASL_MECHANISM",
                                     "SIGNPOST_KAFKA_SASL_USERNAME",
                                     "SIGNPOST_KAFKA_SASL_PASSWORD"])
def test_sasl_without_its_login_is_refused_naming_the_setting(
        settings_from: Make, missing: str) -> None:
    with pytest.raises(ConfigError, match=missing) as refused:
        settings_from({k: v for k, v in SASL_SSL.items() if k != missing})
    assert "s3cret-password" not in str(refused.value)


def test_only_the_builders_construct_kafka_clients() -> None:
    found = {str(path.relative_to(ROOT))
             for folder in ("signpost", "services", "schemas")
             for path in (ROOT / folder).rglob("*.py")
             if CLIENT.search(path.read_text(encoding="utf-8"))}
    assert found == BUILDERS
