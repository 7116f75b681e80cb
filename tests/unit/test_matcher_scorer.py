"""score.Scorer reuses a comparison's level for records equal in the fields it reads
(Comparison.reads): it must give exactly score_pair's answer for every record, and the
predicates must read no field their comparison does not declare. Pure, no server."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.matcher.model import COMPARISONS, default_model
from services.matcher.score import Scorer, score_pair
from services.matcher.standardise import Features

MODEL = default_model()
DERIVED = {"dob_date": "dob"}  # properties of Features, and the field each is made from

# Small alphabets, so that records share values (the memo is used) and every level occurs:
# typing variants, swaps, nicknames, placeholders, one-digit and swapped dates.
NAMES = ["anna", "ana", "hannah", "smith", "smyth", "jones", "baby", "mohammed", "muhammad",
         "bill", "william", "smith jones"]
names = st.lists(st.sampled_from(NAMES), max_size=2).map(tuple)
DATES = [None, "2014-03-07", "2014-07-03", "2014-03-17", "2015-03-07", "2041-03-07"]
features = st.builds(
    Features,
    event_id=st.sampled_from(["e1", "e2", "e3"]),
    agency_id=st.sampled_from(["school-1", "gp-1"]),
    agency_kind=st.sampled_from(["school", "gp"]),
    agency_record_id=st.sampled_from(["1", "2"]),
    given=names, middle=names, family=names, other_names=names,
    dob=st.sampled_from(DATES),
    sex=st.sampled_from(["M", "F", "U"]),
    nhs=st.sampled_from([None, "9434765919", "9434765870"]),
    postcode=st.sampled_from([None, "N17 9EJ", "N17 9EL", "E1 6AN"]),
    address=st.sampled_from([(), ("12", "somerset", "road"), ("12", "somerset", "rd"),
                             ("4", "high", "street")]),
    town=st.sampled_from(["", "london", "leeds"]),
    carers=st.lists(st.tuples(st.sampled_from(["", "mary", "marie", "john"]),
                              st.sampled_from(["", "smith", "smyth"])), max_size=2).map(tuple),
)
TF = st.sampled_from([None, {"given_name": 0.01}, {"given_name": 0.2, "family_name": 1e-5}])


@settings(max_examples=300, deadline=None)
@given(a=features, records=st.lists(features, min_size=1, max_size=12), tf=TF,
       population=st.sampled_from([0, 5000, 1_000_000]))
def test_scorer_is_score_pair_for_every_record(a: Features, records: list[Features],
                                               tf: dict[str, float] | None,
                                               population: int) -> None:
    score = Scorer(a, MODEL, tf, population)
    assert [score(b) for b in records] == [score_pair(a, b, MODEL, tf, population)
                                           for b in records]


class _Reads:
    """A record that notes which of its attributes are read."""

    def __init__(self, f: Features, seen: set[str]) -> None:
        self._f, self._seen = f, seen

    def __getattr__(self, name: str) -> Any:
        self._seen.add(DERIVED.get(name, name))
        return getattr(self._f, name)


@settings(max_examples=300, deadline=None)
@given(a=features, b=features)
def test_predicates_read_only_their_comparisons_fields(a: Features, b: Features) -> None:
    for comp in COMPARISONS:
        seen: set[str] = set()
        for level in comp.levels:  # every predicate, not only up to the pair's level
            level.test(_Reads(a, seen), _Reads(b, seen))  # type: ignore[arg-type]
        assert seen <= set(comp.reads), (comp.name, seen - set(comp.reads))


def test_reads_are_features_fields() -> None:
    fields = set(Features.__dataclass_fields__)
    for comp in COMPARISONS:
        assert comp.reads and set(comp.reads) <= fields, comp.name
