"""The one place the inbox page's HTML is written: plain, server-rendered, accessible.

Every value is escaped here. The pages show what the API shows (content.contacts_for, so a
shielded child's contacts carry no name, role, e-mail or phone) and nothing more; no script.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from schemas import AlertType, PractitionerContact
from services.notifier.content import contacts_for
from services.notifier.inbox import InboxItem

__all__ = ["alert_page", "error_page", "list_page", "sign_in_page"]

TYPE_LABELS = {
    AlertType.new_agency_contact: "Another service is now in contact",
    AlertType.identity_discrepancy: "Identity details differ between services",
    AlertType.records_merged: "Two records turned out to be one child",
    AlertType.review_needed: "A possible match needs a decision",
    AlertType.records_split: "Records wrongly joined were separated",
}
STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:0 auto;padding:1rem;line-height:1.5;
color:#111;background:#fff}
a{color:#0645ad}a:focus,button:focus,input:focus{outline:3px solid #fd0;outline-offset:2px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem;
border-bottom:1px solid #999;vertical-align:top}
button{font:inherit;padding:.4rem 1rem}input{font:inherit;padding:.3rem;width:100%;max-width:40rem}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem}
[role=alert]{border-left:4px solid #b00;padding-left:.5rem}
[role=status]{border-left:4px solid #070;padding-left:.5rem}
dt{font-weight:bold}dd{margin:0 0 .5rem 0}
"""


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at else "not yet"


def page(title: str, body: str, signed_in_as: str | None = None, csrf: str = "") -> str:
    """The frame every page shares: language, title, skip link, one main landmark."""
    account = ""
    if signed_in_as is not None:
        account = (f'<p>Signed in as <strong>{escape(signed_in_as)}</strong>.</p>'
                   f'<form method="post" action="/inbox/sign-out">'
                   f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
                   f'<button type="submit">Sign out</button></form>')
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)} - Signpost</title><style>{STYLE}</style></head><body>"
            f'<a class="skip" href="#main">Skip to content</a>'
            f'<header><p><a href="/inbox">Signpost inbox</a></p>{account}</header>'
            f'<main id="main"><h1>{escape(title)}</h1>{body}</main></body></html>')


def sign_in_page(error: str | None = None) -> str:
    problem = f'<p role="alert">{escape(error)}</p>' if error else ""
    body = (f'{problem}<form method="post" action="/inbox/sign-in">'
            f'<p><label for="token">Your Signpost access token</label></p>'
            f'<p><input id="token" name="token" type="password" autocomplete="off" required '
            f'aria-describedby="token-help"></p>'
            f'<p id="token-help">Paste the token your Signpost operators issued to you.</p>'
            f'<p><button type="submit">Sign in</button></p></form>')
    return page("Sign in", body)


def _row(item: InboxItem) -> str:
    a = item.alert
    status = "Acknowledged" if item.acknowledged_at else "Not acknowledged"
    repeats = f" (and {item.repeats} repeat{'s' * (item.repeats != 1)})" if item.repeats else ""
    return (f"<tr><td>{_when(a.created_at)}</td>"
            f'<td><a href="/inbox/alerts/{a.alert_id}">{escape(TYPE_LABELS[a.alert_type])}</a>'
            f"{escape(repeats)}</td>"
            f"<td>{escape(', '.join(k.value.replace('_', ' ') for k in a.agency_kinds))}</td>"
            f"<td>{status}</td></tr>")


def list_page(items: list[InboxItem], sub: str, csrf: str) -> str:
    if not items:
        return page("Your alerts", "<p>You have no alerts.</p>", sub, csrf)
    rows = "".join(_row(i) for i in items)
    body = ('<table><caption>Alerts addressed to you, newest first</caption><thead><tr>'
            '<th scope="col">Received</th><th scope="col">Alert</th>'
            '<th scope="col">Services involved</th><th scope="col">Status</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>")
    return page("Your alerts", body, sub, csrf)


def _contact(c: PractitionerContact) -> str:
    parts = [escape(c.agency_kind.value.replace("_", " ")),
             f"practitioner {escape(c.practitioner_id)}"]
    parts += [escape(v) for v in (c.name, c.role) if v]
    if c.email:
        parts.append(f'<a href="mailto:{escape(c.email)}">{escape(c.email)}</a>')
    if c.phone:
        parts.append(escape(c.phone))
    return "<li>" + ", ".join(parts) + "</li>"


def _contacts(item: InboxItem) -> str:
    contacts = contacts_for(item.alert)
    listed = "<p>None named.</p>"
    if contacts:
        listed = "<ul>" + "".join(_contact(c) for c in contacts) + "</ul>"
    if item.alert.shielded:
        return ("<p>This child is shielded: other services' contact details are withheld. "
                "Ask Signpost operators to put you in touch.</p>" + listed)
    return listed


def _ack_form(item: InboxItem, csrf: str) -> str:
    if item.acknowledged_at:
        return f'<p role="status">Acknowledged {_when(item.acknowledged_at)}.</p>'
    return (f'<form method="post" action="/inbox/alerts/{item.alert.alert_id}/ack">'
            f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
            f'<button type="submit">Acknowledge this alert</button></form>')


def alert_page(item: InboxItem, sub: str, csrf: str) -> str:
    a = item.alert
    differs = ", ".join(a.discrepancies) or "nothing"
    escalated = (f"<dt>Escalated</dt><dd>level {a.escalation_level}: an earlier alert was not "
                 f"acknowledged in time</dd>") if a.escalated_from else ""
    repeats = f"<dt>Repeats</dt><dd>{item.repeats} more</dd>" if item.repeats else ""
    body = (f"<dl><dt>Alert</dt><dd>{escape(TYPE_LABELS[a.alert_type])}</dd>"
            f"<dt>Received</dt><dd>{_when(a.created_at)}</dd>"
            f"<dt>Signpost child reference</dt><dd>{escape(a.child_id)}</dd>"
            f"<dt>Services involved</dt>"
            f"<dd>{escape(', '.join(k.value.replace('_', ' ') for k in a.agency_kinds))}</dd>"
            f"<dt>What differs</dt><dd>{escape(differs)}</dd>{escalated}{repeats}</dl>"
            f"<h2>Who else is involved</h2>{_contacts(item)}"
            f"<h2>Acknowledgement</h2>{_ack_form(item, csrf)}"
            f'<p><a href="/inbox">Back to your alerts</a></p>')
    return page("Alert", body, sub, csrf)


def error_page(title: str, message: str) -> str:
    return page(title, f'<p role="alert">{escape(message)}</p>'
                       f'<p><a href="/inbox">Back to your alerts</a></p>')
