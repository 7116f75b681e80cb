"""The one place that decides what of an alert leaves the notifier, on every channel.

Webhook bodies, inbox API responses and inbox pages are all built from these views; the
e-mail notice carries nothing of the alert at all (`services.notifier.mail`). Never shown:
the other recipients, the escalation chain, routing data (e-mail, agency id). For a shielded
child, contacts keep only the practitioner id and agency kind: a name, role, e-mail or phone of
another service can say where the child now is (DESIGN §6: no agency location, ever).
"""

from __future__ import annotations

import json

from schemas import Alert, AlertDelivery, PractitionerContact, Recipient

__all__ = ["contacts_for", "delivery", "delivery_body", "shielded_contact"]


def shielded_contact(contact: PractitionerContact) -> PractitionerContact:
    """A contact with nothing that could place the child: only id and agency kind."""
    return PractitionerContact(practitioner_id=contact.practitioner_id, name=None, role=None,
                               email=None, phone=None, agency_kind=contact.agency_kind)


def contacts_for(alert: Alert) -> list[PractitionerContact]:
    """The contacts a recipient may see: all of them, or their shielded form."""
    if alert.shielded:
        return [shielded_contact(c) for c in alert.contacts]
    return list(alert.contacts)


def delivery(alert: Alert, recipient: Recipient) -> AlertDelivery:
    """The alert as one recipient receives it (the webhook body's model)."""
    return AlertDelivery(
        alert_id=alert.alert_id, alert_type=alert.alert_type, child_id=alert.child_id,
        event_id=alert.event_id, agency_kinds=alert.agency_kinds,
        discrepancies=alert.discrepancies, contacts=contacts_for(alert),
        shielded=alert.shielded, created_at=alert.created_at,
        escalated_from=alert.escalated_from, escalation_level=alert.escalation_level,
        recipient=Recipient(kind=recipient.kind, id=recipient.id))


def delivery_body(alert: Alert, recipient: Recipient) -> bytes:
    """The webhook request body: compact JSON of `delivery`, the recipient as kind and id."""
    payload = delivery(alert, recipient).model_dump(mode="json")
    payload["recipient"] = {"kind": recipient.kind, "id": recipient.id}
    return json.dumps(payload, separators=(",", ":")).encode()
