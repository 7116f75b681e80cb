"""The message models and the JSON Schema files agencies read must agree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas import ContactEventV1
from schemas.export import MODELS, stale, write_all
from tests.support.events import make_event


def test_schema_files_match_models() -> None:
    assert stale() == [], "run `python -m schemas.export`"


def test_a_changed_model_is_detected(tmp_path: Path) -> None:
    write_all(tmp_path)
    (tmp_path / "alert.schema.json").write_text("{}", encoding="utf-8")
    assert stale(tmp_path) == ["alert.schema.json"]
    assert len(list(tmp_path.glob("*.schema.json"))) == len(MODELS)


def test_design_example_validates() -> None:
    event = make_event()
    parsed = ContactEventV1.model_validate_json(json.dumps(event))
    assert parsed.child.family_name == "Climbié"
    assert str(parsed.child.date_of_birth) == "2014-11-02"


@pytest.mark.parametrize(
    ("mutate", "expected_loc"),
    [
        (lambda e: e.update(surprise=1), "surprise"),
        (lambda e: e["child"].update(religion="x"), "child.religion"),
        (lambda e: e.pop("agency_record_id"), "agency_record_id"),
        (lambda e: e["child"].pop("given_name"), "child.given_name"),
        (lambda e: e["child"].update(date_of_birth="02/11/2014"), "child.date_of_birth"),
        (lambda e: e["child"].update(sex="female"), "child.sex"),
        (lambda e: e.update(schema_version=2), "schema_version"),
        (lambda e: e.update(occurred_at="2026-11-20T10:15:00"), "occurred_at"),
        (lambda e: e["agency"].update(kind="bank"), "agency.kind"),
        (lambda e: e.update(shielded="no"), "shielded"),
    ],
)
def test_invalid_events_name_the_field(mutate, expected_loc: str) -> None:  # type: ignore[no-untyped-def]
    from pydantic import ValidationError

    event = make_event()
    mutate(event)
    with pytest.raises(ValidationError) as info:
        ContactEventV1.model_validate_json(json.dumps(event))
    locs = {".".join(map(str, e["loc"])) for e in info.value.errors()}
    assert expected_loc in locs


def test_null_names_are_allowed_but_must_be_present() -> None:
    event = make_event(given=None, family=None)
    parsed = ContactEventV1.model_validate_json(json.dumps(event))
    assert parsed.child.given_name is None
