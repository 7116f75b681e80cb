"""The one place the operators' console HTML is written: plain, server-rendered, accessible.

Every value is escaped here. The queue shows ids, scores and levels only; a record's fields
appear only on the page a reviewer opens on purpose (audited by operations.py). No script.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from schemas import AuditRecord
from services.matcher.console.dashboard import DashboardData
from services.matcher.evidence import Evidence
from services.matcher.operations import ReviewDetail
from services.matcher.review import ReviewItem
from services.matcher.thresholds import ThresholdSetting
from signpost.web import STYLE

__all__ = ["audit_page", "dashboard_page", "error_page", "page", "queue_page", "review_page",
           "sign_in_page", "split_page", "thresholds_page"]

NAV = (("/console", "Dashboard"), ("/console/thresholds", "Thresholds"),
       ("/console/review", "Review queue"), ("/console/split", "Split"),
       ("/console/audit", "Audit search"))


def _csrf(csrf: str) -> str:
    return f'<input type="hidden" name="csrf" value="{escape(csrf)}">'


def page(title: str, body: str, who: str | None = None, csrf: str = "") -> str:
    """The frame of every page: language, title, skip link, navigation, one main landmark."""
    nav = account = ""
    if who is not None:
        nav = "<nav aria-label=\"Console\"><ul>" + "".join(
            f'<li><a href="{h}">{t}</a></li>' for h, t in NAV) + "</ul></nav>"
        account = (f"<p>Signed in as <strong>{escape(who)}</strong>.</p>"
                   f'<form method="post" action="/console/sign-out">{_csrf(csrf)}'
                   f'<button type="submit">Sign out</button></form>')
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)} - Signpost console</title><style>{STYLE}</style></head>"
            f'<body><a class="skip" href="#main">Skip to content</a><header>'
            f"<p><strong>Signpost operators' console</strong></p>{account}{nav}</header>"
            f'<main id="main"><h1>{escape(title)}</h1>{body}</main></body></html>')


def sign_in_page(error: str | None = None) -> str:
    problem = f'<p role="alert">{escape(error)}</p>' if error else ""
    return page("Sign in", f'{problem}<form method="post" action="/console/sign-in">'
                '<p><label for="token">Your Signpost access token</label></p>'
                '<p><input id="token" name="token" type="password" autocomplete="off" '
                'required size="60"></p>'
                '<p>Operators, reviewers and auditors sign in with the token issued to them.</p>'
                '<p><button type="submit">Sign in</button></p></form>')


def error_page(title: str, message: str, who: str | None = None, csrf: str = "") -> str:
    return page(title, f'<p role="alert">{escape(message)}</p>', who, csrf)


def _card(label: str, value: str, ident: str) -> str:
    return (f'<div class="card"><span id="{ident}-label">{escape(label)}</span>'
            f'<strong class="num" aria-labelledby="{ident}-label" data-figure="{ident}">'
            f"{escape(value)}</strong></div>")


def _lag_table(data: DashboardData) -> str:
    if data.lag is None:
        return '<p role="alert">The broker did not answer: lag unavailable.</p>'
    if not data.lag:
        return "<p>No consumer group has committed offsets yet.</p>"
    rows = "".join(f"<tr><td>{escape(r.group)}</td><td>{escape(r.topic)}</td>"
                   f'<td class="num">{r.committed}</td><td class="num">{r.end}</td>'
                   f'<td class="num">{r.lag}</td></tr>' for r in data.lag)
    return ('<table><caption>Consumer lag (end offset minus committed offset)</caption><thead>'
            '<tr><th scope="col">Group</th><th scope="col">Topic</th><th scope="col">Committed'
            '</th><th scope="col">End</th><th scope="col">Lag</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>")


def dashboard_page(data: DashboardData, who: str, csrf: str) -> str:
    r = data.rates
    alerts = "unavailable" if data.alerts_published is None else str(data.alerts_published)
    parked = "unavailable" if data.alerts_parked is None else str(data.alerts_parked)
    cards = "".join([
        _card(f"Events per second (last {r.window_s} s)", f"{r.events_per_s:.2f}", "eps"),
        _card(f"Events decided (last {r.window_s} s)", str(r.events), "events"),
        _card("Linked", f"{r.share.get('linked', 0):.0%}", "linked"),
        _card("Sent to review", f"{r.share.get('review', 0):.0%}", "review-rate"),
        _card("New children", f"{r.share.get('new_child', 0):.0%}", "new"),
        _card("Review queue open", str(data.review["open"]), "open"),
        _card("Reviews decided", str(data.review["decided"]), "decided"),
        _card("Alerts published", alerts, "alerts"),
        _card("Alerts undeliverable (alerts.dlq)", parked, "parked"),
    ])
    t = data.thresholds
    body = (f'<div class="cards">{cards}</div>'
            f"<h2>Thresholds</h2><p>Version {t.version}: link at {t.upper:g} or more, review "
            f'from {t.lower:g}. <a href="/console/thresholds">Tune them</a>.</p>'
            f"<h2>Consumer lag</h2>{_lag_table(data)}"
            "<p>On the embedded broker (Tansu) end offsets can read one batch short.</p>")
    return page("Dashboard", body, who, csrf)


def _sweep_table(ev: Evidence) -> str:
    rows = "".join(
        f'<tr><td class="num">{r.threshold:g}</td><td class="num">{r.precision:.3f}</td>'
        f'<td class="num">{r.recall:.3f}</td><td class="num">{r.f1:.3f}</td>'
        f'<td class="num">{r.review_per_day:.1f}</td></tr>' for r in ev.rows)
    return ('<details><summary>Every candidate threshold</summary><table><thead><tr>'
            '<th scope="col">Upper</th><th scope="col">Precision</th><th scope="col">Recall</th>'
            '<th scope="col">F1</th><th scope="col">Review items per day</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></details>")


def _history(history: list[ThresholdSetting]) -> str:
    rows = "".join(f"<tr><td>{h.version}</td><td>{h.upper:g}</td><td>{h.lower:g}</td>"
                   f"<td>{escape(str(h.changed_at or ''))}</td><td>{escape(h.actor or '')}</td>"
                   f"<td>{escape(h.reason or '')}</td></tr>" for h in reversed(history))
    return ('<table><caption>Changes, newest first</caption><thead><tr><th scope="col">Version'
            '</th><th scope="col">Upper</th><th scope="col">Lower</th><th scope="col">When</th>'
            '<th scope="col">Who</th><th scope="col">Reason</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>") if history else "<p>Never changed.</p>"


def thresholds_page(current: ThresholdSetting, ev: Evidence, history: list[ThresholdSetting],
                    who: str, csrf: str, message: str | None = None) -> str:
    c = ev.at_current
    note = f'<p role="status">{escape(message)}</p>' if message else ""
    query = urlencode({"upper": ev.upper, "lower": ev.lower})
    body = (f"{note}<p>Live: version {current.version}, upper {current.upper:g}, lower "
            f"{current.lower:g}. Matchers pick a change up within 5 seconds.</p>"
            '<h2>Preview a setting</h2><form method="get" action="/console/thresholds">'
            f'<p><label for="p-upper">Upper</label> <input id="p-upper" name="upper" '
            f'type="number" step="0.1" value="{ev.upper:g}"> <label for="p-lower">Lower</label>'
            f' <input id="p-lower" name="lower" type="number" step="0.1" value="{ev.lower:g}">'
            ' <button type="submit">Preview</button></p></form>'
            f'<p id="preview">At upper {ev.upper:g}, lower {ev.lower:g}: precision '
            f'<strong>{c.precision:.3f}</strong>, recall <strong>{c.recall:.3f}</strong>, F1 '
            f"<strong>{c.f1:.3f}</strong> over {ev.pairs} labelled pairs ({ev.matches} matches);"
            f" about <strong>{c.review_per_day:.1f}</strong> review items a day at "
            f"{ev.events_per_day:.0f} events a day.</p>"
            f'<img src="/console/thresholds/chart.png?{escape(query)}" width="1200" '
            'alt="Precision-recall curve, score histograms with the thresholds marked, and the '
            'expected review queue per day at each upper threshold">'
            f"{_sweep_table(ev)}<h2>Change the live thresholds</h2>"
            f'<form method="post" action="/console/thresholds">{_csrf(csrf)}'
            f'<input type="hidden" name="version" value="{current.version}">'
            f'<p><label for="upper">Upper threshold</label> <input id="upper" name="upper" '
            f'type="number" step="0.1" required value="{ev.upper:g}"></p>'
            f'<p><label for="lower">Lower threshold</label> <input id="lower" name="lower" '
            f'type="number" step="0.1" required value="{ev.lower:g}"></p>'
            '<p><label for="reason">Reason (kept in the audit log)</label> <input id="reason" '
            'name="reason" required size="60" maxlength="500"></p>'
            '<p><button type="submit">Set thresholds</button></p></form>'
            f"<h2>History</h2>{_history(history)}")
    return page("Thresholds", body, who, csrf)


def _levels(item: ReviewItem) -> str:
    return ", ".join(f"{escape(e.comparison)} {escape(e.level)}" for e in item.explanation)


def queue_page(items: list[ReviewItem], who: str, csrf: str) -> str:
    if not items:
        return page("Review queue", "<p>Nothing waits for review.</p>", who, csrf)
    rows = "".join(
        f'<tr><td><a href="/console/review/{escape(i.review_id)}">Review {escape(i.review_id[:8])}'
        f"</a></td><td>{i.created_at:%Y-%m-%d %H:%M}</td><td class=\"num\">{i.score:.2f}</td>"
        f'<td class="num">{i.risk:.2f}</td><td>{escape(i.rule or "")}</td>'
        f"<td>{_levels(i)}</td></tr>" for i in items)
    body = ("<p>Oldest and riskiest first. Personal details stay hidden until you open an item."
            '</p><table><caption>Possible matches awaiting a decision</caption><thead><tr>'
            '<th scope="col">Item</th><th scope="col">Queued</th><th scope="col">Score</th>'
            '<th scope="col">Risk</th><th scope="col">Rule</th><th scope="col">Levels</th></tr>'
            f"</thead><tbody>{rows}</tbody></table>")
    return page("Review queue", body, who, csrf)


def _side_by_side(detail: ReviewDetail) -> str:
    s = detail.side_by_side
    if s is None:
        return "<p>The records are no longer held (deleted or purged).</p>"
    rows = "".join(f'<tr class="{"differs" if a != b else ""}"><th scope="row">{escape(f)}'
                   f"</th><td>{escape(a)}</td><td>{escape(b)}</td></tr>"
                   for f, a, b in s.fields)
    levels = "".join(f"<tr><td>{escape(c)}</td><td>{escape(lv)}</td>"
                     f'<td class="num">{w:+.2f}</td></tr>' for c, lv, w in s.levels)
    return ('<table><caption>The two records, side by side (this view is audited)</caption>'
            '<thead><tr><th scope="col">Field</th><th scope="col">New event</th>'
            f'<th scope="col">Closest record of the candidate</th></tr></thead><tbody>{rows}'
            '</tbody></table><table><caption>Each comparison\'s level and weight</caption>'
            '<thead><tr><th scope="col">Comparison</th><th scope="col">Level</th>'
            f'<th scope="col">Weight</th></tr></thead><tbody>{levels}</tbody></table>'
            f"<p>Score now: {s.score:.2f}</p>")


def _decision_forms(item: ReviewItem, csrf: str) -> str:
    if item.status.value != "open":
        return f'<p role="status">Decided: {escape(item.status.value)} by ' \
               f"{escape(item.decided_by or '')}.</p>"
    base = f"/console/review/{escape(item.review_id)}"
    return (f'<form method="post" action="{base}/accept">{_csrf(csrf)}'
            '<p><label for="reason-a">Note (optional)</label> <input id="reason-a" name="reason" '
            'maxlength="500"> <button type="submit">Accept: the same child</button></p></form>'
            f'<form method="post" action="{base}/reject">{_csrf(csrf)}'
            '<p><label for="reason-r">Note (optional)</label> <input id="reason-r" name="reason" '
            'maxlength="500"> <button type="submit">Reject: different children</button></p>'
            "</form>")


def review_page(item: ReviewItem, detail: ReviewDetail | None, who: str, csrf: str) -> str:
    shown = _side_by_side(detail) if detail else (
        f'<p>Personal details are hidden. <a href="/console/review/{escape(item.review_id)}'
        '?open=1">Show the records side by side</a> (your view is recorded in the audit log).'
        "</p>")
    body = (f"<dl><dt>Event</dt><dd>{escape(item.event_id)}</dd><dt>Waiting as child</dt>"
            f"<dd>{escape(item.child_id)}</dd><dt>Candidate child</dt>"
            f"<dd>{escape(item.candidate_child_id)}</dd><dt>Score</dt><dd>{item.score:.2f}</dd>"
            f"<dt>Rule</dt><dd>{escape(item.rule or 'none')}</dd><dt>Levels</dt>"
            f"<dd>{_levels(item)}</dd></dl>{shown}<h2>Decision</h2>"
            f'{_decision_forms(item, csrf)}<p><a href="/console/review">Back to the queue</a></p>')
    return page("Review item", body, who, csrf)


def split_page(found: dict[str, object] | None, who: str, csrf: str,
               message: str | None = None) -> str:
    note = f'<p role="status">{escape(message)}</p>' if message else ""
    form = ('<form method="get" action="/console/split"><p><label for="child">Child id</label> '
            '<input id="child" name="child" required> <button type="submit">Show records'
            "</button></p></form>")
    if not found:
        return page("Split a child", note + form, who, csrf)
    records = found["records"]
    assert isinstance(records, list)
    boxes = "".join(
        f'<li><input type="checkbox" id="r{n}" name="r{n}" value="{escape(r["record_id"])}">'
        f' <label for="r{n}">{escape(r["record_id"])} ({escape(r["agency_kind"])} '
        f'{escape(r["agency_id"])})</label></li>' for n, r in enumerate(records))
    body = (f"{note}{form}<h2>Records of {escape(str(found['child_id']))}</h2>"
            f'<form method="post" action="/console/split">{_csrf(csrf)}'
            f'<input type="hidden" name="child" value="{escape(str(found["child_id"]))}">'
            f'<fieldset><legend>Records to move</legend><ul>{boxes}</ul></fieldset>'
            '<p><label for="into">Into child (empty: a new child)</label> <input id="into" '
            'name="into"></p><p><label for="split-reason">Reason (kept in the audit log)'
            '</label> <input id="split-reason" name="reason" required size="60" maxlength="500">'
            '</p><p><button type="submit">Split</button></p></form>')
    return page("Split a child", body, who, csrf)


def audit_page(records: list[AuditRecord], query: dict[str, str], who: str, csrf: str) -> str:
    fields = "".join(f'<label for="q-{n}">{n.replace("_", " ")}</label> <input id="q-{n}" '
                     f'name="{n}" value="{escape(query.get(n, ""))}"> '
                     for n in ("actor", "action", "child_id"))
    rows = "".join(f"<tr><td>{r.seq}</td><td>{r.at:%Y-%m-%d %H:%M:%S}</td>"
                   f"<td>{escape(r.actor)} ({escape(r.role)})</td><td>{escape(r.action.value)}"
                   f"</td><td>{escape(r.outcome.value)}</td><td>{escape(r.child_id or '')}</td>"
                   f"<td>{escape(r.target or '')}</td><td>{escape(r.purpose or '')}</td></tr>"
                   for r in records)
    body = (f'<form method="get" action="/console/audit"><p>{fields}'
            '<button type="submit">Search</button></p></form>'
            '<table><caption>Matching audit records, newest first</caption><thead><tr>'
            '<th scope="col">Seq</th><th scope="col">When</th><th scope="col">Who</th>'
            '<th scope="col">Action</th><th scope="col">Outcome</th><th scope="col">Child</th>'
            '<th scope="col">What</th><th scope="col">Reason</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>")
    return page("Audit search", body, who, csrf)
