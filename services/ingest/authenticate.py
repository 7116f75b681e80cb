"""The one place ingest decides whether a Kafka message really comes from the agency it names.

Checked before the payload is parsed (signature over the exact bytes), and again after: the
event's `agency.id` must be the signing agency, so one agency cannot publish as another.
Every failure is a `Rejection` with reason `bad_signature`; errors name the header, not a value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import SecretStr

from schemas import DlqError, DlqReason, StandardisedEvent
from services.ingest.validate import Rejection
from signpost.kafka import ConsumerRecord
from signpost.signing import AGENCY_HEADER, SIGNATURE_HEADER, SignatureProblem, check_signature

__all__ = ["check_agency", "signing_agency"]

_MESSAGES = {
    SignatureProblem.missing: (SIGNATURE_HEADER, "message is not signed"),
    SignatureProblem.duplicated: (SIGNATURE_HEADER, "a signing header appears more than once"),
    SignatureProblem.unknown_agency: (AGENCY_HEADER, "no signing key for this agency"),
    SignatureProblem.mismatch: (SIGNATURE_HEADER, "signature does not match the payload"),
    SignatureProblem.agency_mismatch: ("agency.id", "event's agency is not the signing agency"),
}


def _rejection(problem: SignatureProblem) -> Rejection:
    loc, msg = _MESSAGES[problem]
    return Rejection(DlqReason.bad_signature, (DlqError(loc=loc, type=problem.value, msg=msg),))


def signing_agency(record: ConsumerRecord,
                   keys: Mapping[str, Sequence[SecretStr]]) -> str | Rejection:
    """The agency whose key signed this record's value, or the rejection."""
    found = check_signature(record.headers, record.value or b"", keys)
    return _rejection(found) if isinstance(found, SignatureProblem) else found


def check_agency(std: StandardisedEvent, agency_id: str) -> Rejection | None:
    """A rejection if a validly signed event claims another agency."""
    if std.event.agency.id != agency_id:
        return _rejection(SignatureProblem.agency_mismatch)
    return None
