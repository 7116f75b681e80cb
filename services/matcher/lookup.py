"""The one place for "Who else?" (DESIGN §6): who is in contact with a child one works with.

For a child a professional already works with, which other services are in contact and who
the lead professionals are: agency kinds and practitioners' work contacts, no case detail. The
relationship is the matcher's own record: the professional's practitioner id is on the child.
It reads the matcher's keys (keys.py) and never writes them. For a shielded child contacts
carry only the practitioner id and agency kind. Exceptional access without a relationship
(a purpose and a second person's approval) is signpost/access.py's grant; `answer` is the read
such a grant allows.
"""

from __future__ import annotations

import redis
from pydantic import BaseModel, ConfigDict

from schemas import AgencyKind, PractitionerContact
from services.matcher.index import (
    ChildHash,
    PractitionerOnRecord,
    keyed_digest,
    record_material,
)
from services.matcher.keys import Keys
from services.matcher.scripts import RESOLVE
from signpost.errors import SignpostError

__all__ = ["Lookup", "NoRelationship", "WhoElse"]

class NoRelationship(SignpostError):
    """The professional is not on the child's record (or the child is unknown): refuse."""


class WhoElse(BaseModel):
    """The answer: the other services in contact, and who leads. No case detail."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    child_id: str
    shielded: bool
    agency_kinds: list[AgencyKind]
    lead_professionals: list[PractitionerContact]
    others: list[PractitionerContact]


def _contact(p: PractitionerOnRecord, shielded: bool) -> PractitionerContact:
    """A work contact; for a shielded child only id and agency kind (no agency location)."""
    if shielded:
        return PractitionerContact(practitioner_id=p.id, agency_kind=AgencyKind(p.agency_kind),
                                   name=None, role=None, email=None, phone=None)
    return PractitionerContact(practitioner_id=p.id, agency_kind=AgencyKind(p.agency_kind),
                               name=p.name, role=p.role, email=p.email, phone=p.phone)


class Lookup:
    """Who else? over the matcher's Redis (a decoding client)."""

    def __init__(self, client: redis.Redis, prefix: str, blocking_secret: bytes = b"") -> None:
        self.r = client
        self.k = Keys(prefix)
        self._secret = blocking_secret
        self._resolve = client.register_script(RESOLVE)

    def child_of_record(self, *, agency_id: str, agency_record_id: str) -> str | None:
        """The child an agency's own record id belongs to now, or None if unknown."""
        digest = keyed_digest(self._secret, record_material(agency_id, agency_record_id))
        child = self.r.hget(*self.k.agency_record(digest))
        return self.resolve(str(child)) if child is not None else None

    def resolve(self, child_id: str) -> str:
        """The child that now stands for `child_id` after any merges (scripts.RESOLVE, as the
        index follows them)."""
        return str(self._resolve(keys=[self.k.redirect], args=[child_id])[0])

    def _child(self, child_id: str) -> ChildHash:
        return ChildHash.read(self.r, self.k, child_id)

    def _practitioners(self, child: ChildHash) -> dict[str, PractitionerOnRecord]:
        return {pid: PractitionerOnRecord.from_stored(pid, v)
                for pid, v in child.practitioners.items()}

    def _answer(self, root: str, child: ChildHash, asker: str) -> WhoElse:
        """The answer about child `root` (whose hash is `child`) for `asker` (left out of the
        lists)."""
        shielded = child.plain.get("shielded") == "1"
        kinds = child.agencies
        practitioners = self._practitioners(child)
        others = sorted((p for p in practitioners.values() if p.id != asker),
                        key=lambda p: (p.agency_kind, p.id))
        return WhoElse(child_id=root, shielded=shielded,
                       agency_kinds=sorted({AgencyKind(k) for k in kinds.values()}),
                       lead_professionals=[_contact(p, shielded) for p in others if p.lead],
                       others=[_contact(p, shielded) for p in others if not p.lead])

    def has_relationship(self, *, practitioner_id: str, child_id: str) -> bool:
        """Whether the professional is on the record of the child `child_id` now stands for."""
        return practitioner_id in self._child(self.resolve(child_id)).practitioners

    def who_else(self, *, practitioner_id: str, child_id: str) -> WhoElse:
        """The answer for a professional on the child's record; NoRelationship otherwise."""
        root = self.resolve(child_id)
        child = self._child(root)
        if practitioner_id not in child.practitioners:
            raise NoRelationship(f"practitioner {practitioner_id} is not on child {child_id}")
        return self._answer(root, child, practitioner_id)

    def answer(self, *, asker: str, child_id: str) -> WhoElse:
        """The answer without the relationship check: only for a read an exceptional-access
        grant allows (signpost/access.py decides and audits that)."""
        root = self.resolve(child_id)
        return self._answer(root, self._child(root), asker)
