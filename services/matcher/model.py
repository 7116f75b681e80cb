"""The one place the linkage model is declared: comparisons, their levels, and their weights.

Each comparison is an ordered tuple of named levels, null first and else last; the first
level whose predicate holds is the pair's level. The m and u probabilities per level live in
a versioned JSON file (data/model.json by default) validated by pydantic on load.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.matcher import compare as c
from services.matcher.compare import Predicate

__all__ = [
    "COMPARISONS",
    "Comparison",
    "Level",
    "LevelParams",
    "LinkageModel",
    "default_model",
    "load_model",
    "save_model",
]

DEFAULT_MODEL_FILE = "model.json"


@dataclass(frozen=True, slots=True)
class Level:
    name: str
    label: str
    test: Predicate
    is_null: bool = False


@dataclass(frozen=True, slots=True)
class Comparison:
    """`reads`: the Features fields its predicates read. A pair's level is a function of
    these alone, so a scorer may reuse it for records equal in them (score.Scorer); a test
    checks the predicates read nothing else."""

    name: str
    levels: tuple[Level, ...]
    reads: tuple[str, ...]

    def level_of(self, a: object, b: object) -> Level:
        for level in self.levels:
            if level.test(a, b):  # type: ignore[arg-type]
                return level
        raise AssertionError(f"comparison {self.name} has no else level")


def _null(test: Predicate) -> Level:
    return Level("null", "either side missing", test, is_null=True)


_ELSE = Level("else", "all other pairs", c.always)

COMPARISONS: tuple[Comparison, ...] = (
    Comparison("given_name", (
        _null(c.given_null),
        Level("placeholder", "'Baby', 'Unborn' and the like on one side", c.given_placeholder,
              is_null=True),
        Level("exact", "same first given name after folding", c.given_exact),
        Level("equivalent", "nickname or transliteration of each other", c.given_equivalent),
        Level("swapped", "given and family names swapped", c.given_swapped),
        Level("phonetic", "same phonetic code", c.given_phonetic),
        Level("close", f"Jaro-Winkler >= {c.CLOSE_NAME_JW}", c.given_close),
        Level("swapped_close", "given and family names swapped, with a keying error",
              c.given_swapped_close),
        Level("other_name", "one's given name is the other's middle or other name",
              c.given_other_name),
        Level("similar", f"<= {c.SIMILAR_NAME_EDITS} edits or Jaro-Winkler >= "
              f"{c.SIMILAR_NAME_JW}", c.given_similar),
        _ELSE,
    ), ("given", "middle", "family", "other_names")),
    Comparison("family_name", (
        _null(c.family_null),
        Level("exact", "same family name after folding", c.family_exact),
        Level("phonetic", "same phonetic code", c.family_phonetic),
        Level("close", f"Jaro-Winkler >= {c.CLOSE_NAME_JW}", c.family_close),
        Level("part", "shares one part of a double-barrelled name, or swapped", c.family_part),
        Level("similar", f"<= {c.SIMILAR_NAME_EDITS} edits or Jaro-Winkler >= "
              f"{c.SIMILAR_NAME_JW}", c.family_similar),
        _ELSE,
    ), ("family", "given")),
    Comparison("date_of_birth", (
        _null(c.dob_null),
        Level("exact", "same date", c.dob_exact),
        Level("day_month_swapped", "day and month transposed", c.dob_swapped),
        Level("one_digit", "one digit differs, or two adjacent digits transposed",
              c.dob_one_digit),
        Level("year_off_by_one", "same day and month, year +-1", c.dob_year_off),
        _ELSE,
    ), ("dob",)),
    Comparison("sex", (
        _null(c.sex_null),
        Level("exact", "same", c.sex_exact),
        _ELSE,
    ), ("sex",)),
    Comparison("address", (
        _null(c.address_null),
        Level("exact", "same postcode and house", c.address_exact),
        Level("postcode", "same postcode", c.address_postcode),
        Level("street", "same house and street", c.address_street),
        Level("sector", "same postcode sector", c.address_sector),
        Level("town", "same town", c.address_town),
        _ELSE,
    ), ("postcode", "address", "town")),
    Comparison("nhs_number", (
        _null(c.nhs_null),
        Level("exact", "same valid NHS number", c.nhs_exact),
        _ELSE,
    ), ("nhs",)),
    Comparison("carers", (
        _null(c.carers_null),
        Level("name", "a carer with the same name", c.carers_name),
        Level("family", "a carer with the same family name", c.carers_family),
        _ELSE,
    ), ("carers",)),
    Comparison("agency_record", (
        Level("other_agency", "records from different agencies", c.record_other_agency,
              is_null=True),
        Level("same_record", "same agency and agency record id", c.record_same),
        Level("other_record", "same agency, different record id", c.always),
    ), ("agency_id", "agency_record_id")),
)


class LevelParams(BaseModel):
    """m = P(level | same child), u = P(level | different children)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    m: float = Field(gt=0, le=1)
    u: float = Field(gt=0, le=1)


class LinkageModel(BaseModel):
    """A Fellegi-Sunter model: prior, thresholds, and m/u for every non-null level."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_version: str
    description: str = ""
    records_per_child: float = Field(
        gt=0, description="other records a stored record's child has, on average: with the "
        "number of stored records N, the prior that a record is the event's child is r/N")
    min_population: int = Field(
        default=1000, ge=1, description="N used while fewer records are stored, so the first "
        "events of an empty index are not linked on thin evidence")
    upper: float = Field(description="match weight at or above which a pair links")
    lower: float = Field(description="match weight at or above which a pair goes to review")
    levels: dict[str, dict[str, LevelParams]]
    tf_comparisons: list[str] = Field(
        default_factory=list,
        description="comparisons whose exact level uses the value's frequency as u")
    tf_min_u: float = Field(default=1e-4, gt=0, description="floor of a term frequency")

    @model_validator(mode="after")
    def _covers_every_level(self) -> LinkageModel:
        for comp in COMPARISONS:
            for level in comp.levels:
                if not level.is_null and level.name not in self.levels.get(comp.name, {}):
                    raise ValueError(f"model lacks m/u for {comp.name}.{level.name}")
        if self.lower > self.upper:
            raise ValueError("lower threshold above upper threshold")
        return self


def load_model(path: Path | None = None) -> LinkageModel:
    """The model at `path`, or the one shipped with the matcher."""
    if path is None:
        text = resources.files("services.matcher").joinpath("data", DEFAULT_MODEL_FILE)
        return LinkageModel.model_validate_json(text.read_text("utf-8"))
    return LinkageModel.model_validate_json(path.read_text("utf-8"))


def save_model(model: LinkageModel, path: Path) -> None:
    path.write_text(model.model_dump_json(indent=2) + "\n", encoding="utf-8")


def default_model() -> LinkageModel:
    return load_model(None)
