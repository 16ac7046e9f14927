"""The ticket page (/ticket/<number>): the request, its place on a small offline map, the
records merged into it with their reply status, both clocks, and the timeline (流程跟踪),
with the steps this user may take. Built from ``dashboard/read_models/ticket.py``'s page.
``assets/ticket.js`` re-renders the body when a push says the ticket changed, and sends
the steps and the reveal to the API."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from dash import dcc, html

from geo import maps
from layouts import duty, queue
from layouts.i18n import N_, gettext, labels, other_language, switch_label, texts
from layouts.live import marker

TITLE = N_("Ticket")
EVENT_TEXT = {
    "received": N_("Received"), "dispatched": N_("Dispatched"), "accept": N_("Accepted"),
    "contact": N_("Citizen contacted"), "report": N_("Reported"), "approve": N_("Approved"),
    "send_back": N_("Sent back"), "reply": N_("Replied to the citizen"), "close": N_("Closed"),
    "redo": N_("Redone"), "return": N_("Returned"), "request_extension": N_("Extension asked for"),
    "extension_decided": N_("Extension decided"), "merge": N_("Merged into another ticket"),
    "unmerge": N_("Unmerged"), "record_merged": N_("A duplicate record merged in"),
    "rehome": N_("Moved to another unit"),
    "supervision_order": N_("Supervision order"), "reminder_letter": N_("Reminder letter"),
    "escalated": N_("Escalated"), "follow_up_answered": N_("Citizen answered the follow-up"),
    "follow_up_phone_task": N_("Phone follow-up task"), "follow_up_needs_person": N_("Follow-up needs a person"),
    "findings": N_("Findings"), "findings_due": N_("Findings due"), "imported_closed": N_("Closed at the source"),
    "sms_out": N_("SMS to the citizen"), "sms_in": N_("SMS from the citizen"), "sms_official": N_("SMS to an official"),
}
SMS_TEXT = {"to": N_("to %(name)s"), "held": N_("held until %(at)s: outside working time"),
            "failed": N_("not delivered")}
# Why a deadline was set, as the timeline says it.
DEADLINE_TEXT = {
    "dispatch": N_("Deadlines set at dispatch"), "redo": N_("New resolve deadline for the redo"),
    "extension": N_("Resolve deadline moved by the extension"), "source": N_("Deadline from the source system"),
    "closed_at": N_("No deadline at the source: on time when closed"), "none": N_("No deadline"),
    "offset": N_("Deadline by the source's rule (a fixed time after it was received)"),
    "contact_by": N_("contact by %(at)s"), "resolve_by": N_("resolve by %(at)s"), "rules": N_("SLA rules %(version)s"),
}
# The resolve clock's stretches (the read model's ``segments``).
SEGMENT_TEXT = {
    "running": N_("counting %(start)s – %(end)s"), "restarted": N_("counting afresh after the redo %(start)s – %(end)s"),
    "paused": N_("paused while the extension was pending %(start)s – %(end)s"), "now": N_("now"),
}
RULE_TEXT = {
    "routing": N_("rule: routing by place and topic"), "dedup": N_("rule: de-duplication"),
    "overdue_order": N_("rule: overdue tickets get a supervision order"),
    "send_back_order": N_("rule: a report sent back gets a supervision order"),
    "repeat_letter": N_("rule: repeated complaints get a reminder letter"),
    "unsatisfied_letter": N_("rule: an unsatisfied citizen gets the unit a reminder letter"),
    "escalation": N_("rule: an unsatisfied answer escalates"), "follow_up": N_("rule: the citizen's answer closes it"),
    "no_answer": N_("rule: no answer in 48 hours becomes a phone task"), "deadline": N_("rule: deadline"),
}
PAGE_TEXT = {
    "request": N_("The request"), "records": N_("Records merged into it"), "clocks": N_("Deadlines"),
    "timeline": N_("Timeline"), "orders": N_("Supervision orders"), "letters": N_("Reminder letters"),
"reveals": N_("Who saw the citizen in full"),
    "reveal": N_("Show name and phone"), "system": N_("the platform"), "after": N_("+%(hours)s h"),
    "running": N_("running"), "paused": N_("paused: extension pending"),
    "off_hours": N_("not counting: outside working hours"), "done": N_("done at %(at)s"), "done_late": N_("done late, at %(at)s"),
    "due": N_("due %(at)s"), "reply_sent": N_("reply sent"), "reply_pending": N_("reply queued"),
    "reply_failed": N_("reply failed"), "reply_sms": N_("answered by SMS follow-up"),
    "reply_waiting": N_("no reply yet"), "merged_record": N_("merged"), "own_record": N_("its own"),
    "not_found": N_("No such ticket, or not one you may see"), 
    "police_number": N_("No. %(number)s"), "citizen": N_("the citizen (%(phone)s)"),
}
CLOCK_TEXT = {"contact": N_("Contact the citizen (1 hour)"), "resolve": N_("Resolve (working time)")}


def _local(iso: str | None, tz: ZoneInfo) -> str:
    return datetime.fromisoformat(iso).astimezone(tz).strftime("%m-%d %H:%M") if iso else "–"


def _actor(a: Mapping[str, Any], words: Mapping[str, str], lang: str) -> str:
    if a.get("kind") == "person":
        number = gettext(PAGE_TEXT["police_number"], lang, number=a["police_number"]) if a.get("police_number") else ""
        return " · ".join(x for x in (a.get("unit"), a.get("name"), number) if x)
    if a.get("kind") == "citizen":  # masked: 138****5678
        return gettext(PAGE_TEXT["citizen"], lang, phone=a.get("name", ""))
    return words["system"] if a.get("kind") == "system" else str(a.get("name", ""))


def _clock(c: Mapping[str, Any], words: Mapping[str, str], tz: ZoneInfo, lang: str) -> html.Div:
    if c.get("done_at"):
        state = gettext(PAGE_TEXT["done"], lang, at=_local(c["done_at"], tz))
        if c.get("due_at") and c["done_at"] > c["due_at"]:
            state = gettext(PAGE_TEXT["done_late"], lang, at=_local(c["done_at"], tz))
    elif c.get("paused"):
        state = words["paused"]
    elif c.get("off_hours"):
        state = words["off_hours"]
    else:
        state = words["running"] if c.get("running") else ""
    now = gettext(SEGMENT_TEXT["now"], lang)
    segments = html.Ul([html.Li(gettext(SEGMENT_TEXT[g["state"]], lang, start=_local(g["from"], tz),
                                        end=_local(g["to"], tz) if g["to"] else now),
                                className=f"segment segment-{g['state']}") for g in c.get("segments") or []],
                       className="clock-segments")
    return html.Div([html.Span(gettext(CLOCK_TEXT[c["name"]], lang), className="clock-name"),
                     html.Span(gettext(PAGE_TEXT["due"], lang, at=_local(c.get("due_at"), tz)), className="clock-due"),
                     html.Span(state, className="clock-state"),
                     segments if c.get("segments") else None], className=f"clock clock-{c['name']}")


def _deadlines(d: Mapping[str, Any], tz: ZoneInfo, lang: str) -> str:
    """A timeline entry's deadlines: why they were set, what they are, by which rules."""
    parts = [gettext(DEADLINE_TEXT.get(d.get("basis") or "", DEADLINE_TEXT["dispatch"]), lang)]
    if d.get("contact_due_at"):
        parts.append(gettext(DEADLINE_TEXT["contact_by"], lang, at=_local(d["contact_due_at"], tz)))
    if d.get("resolve_due_at"):
        parts.append(gettext(DEADLINE_TEXT["resolve_by"], lang, at=_local(d["resolve_due_at"], tz)))
    if d.get("policy"):
        parts.append(gettext(DEADLINE_TEXT["rules"], lang, version=d["policy"]))
    return " · ".join(parts)


def _timeline(page: Mapping[str, Any], words: Mapping[str, str], tz: ZoneInfo, lang: str) -> html.Ol:
    events = texts(EVENT_TEXT, lang)
    rules = texts(RULE_TEXT, lang)
    items = []
    for e in page["timeline"]:
        who = _actor(e["actor"], words, lang)
        detail = [e.get("note") or ""]
        data = e.get("data") or {}
        if data.get("number"):
            detail.append(str(data["number"]))
        if e["kind"] == "sms_official":
            detail.insert(0, gettext(SMS_TEXT["to"], lang, name=data.get("to") or ""))
            if data.get("status") == "held" and data.get("not_before"):
                detail.append(gettext(SMS_TEXT["held"], lang, at=_local(data["not_before"], tz)))
        if str(e["kind"]).startswith("sms_") and data.get("status") == "failed":
            detail.append(gettext(SMS_TEXT["failed"], lang))
        deadlines = data.get("deadlines")
        items.append(html.Li([
            html.Span(_local(e["at"], tz), className="tl-at"),
            html.Span(gettext(PAGE_TEXT["after"], lang, hours=e["offset_hours"]), className="tl-offset"),
            html.Span(events.get(e["kind"], e["kind"]), className="tl-kind"),
            html.Span(who, className="tl-who"),
            html.Span(rules[e["rule"]] if e.get("rule") else "", className="tl-rule"),
            html.Span(" ".join(d for d in detail if d), className="tl-note"),
            html.Span(_deadlines(deadlines, tz, lang), className="tl-deadlines") if deadlines else None,
        ], className=f"tl tl-{e['kind']}", **queue._data(kind=e["kind"])))
    return html.Ol(items, className="timeline", id="ticket-timeline")


def _map(page: Mapping[str, Any], lang: str) -> html.Iframe | None:
    lat, lon = page.get("lat"), page.get("lon")
    if lat is None or lon is None:
        return None
    spec = maps.MapSpec(points=[(lat, lon, 1.0)], focus=(lat - 0.012, lon - 0.018, lat + 0.012, lon + 0.018),
                        lang=lang, heat_radius=18)
    return html.Iframe(srcDoc=maps.render_html(maps.build_map(spec)), className="ticket-map")


def body(page: Mapping[str, Any] | None, lang: str, timezone: str,
         reveals: Sequence[Mapping[str, Any]] | None = None) -> html.Div:
    """The part of the page a push re-renders."""
    words = texts(PAGE_TEXT, lang)
    if page is None:
        return html.Div(html.H2(words["not_found"]), id="ticket-body")
    tz = ZoneInfo(timezone)
    names = labels(lang)
    steps = texts(queue.STEP_TEXT, lang)
    reply = {"sent": words["reply_sent"], "pending": words["reply_pending"], "failed": words["reply_failed"],
             "sms": words["reply_sms"], "waiting": words["reply_waiting"]}
    head = html.Div([
        html.H2([page["number"], " ", html.Span(names["statuses"].get(page["status"], page["status"]),
                                                className=f"status status-{page['status']}")]),
        html.Div([html.Span(x) for x in (names["channels"].get(page["channel"], page["channel"]),
                                         names["topics"].get(page["topic"], page["topic"]), page.get("unit_name") or "",
                                         _local(page["received_at"], tz)) if x], className="ticket-meta"),
        html.Div([html.Button(steps.get(s, s), className=f"step step-{s}", **{"data-step": s})
                  for s in page["allowed_steps"]]
                 + [html.Button(gettext(duty.STEP_TEXT[s], lang), className=f"step step-{s}", **queue._data(step=s))
                    for s, may in (("order", page.get("may_supervise")), ("remind", page.get("may_remind"))) if may],
                 className="actions ticket-actions", id="ticket-actions"),
    ], className="ticket-head")
    citizen = html.Div([
        html.Span(f"{page['citizen']} {page['phone']}", id="ticket-citizen", className="citizen"),
        html.Button(words["reveal"], id="ticket-reveal", className="step") if page["may_reveal"] else None,
    ], className="ticket-citizen")
    request = html.Section([
        html.H3(words["request"]), html.P(page["title"], className="ticket-title"),
        html.P(page["content"], className="ticket-content"),
        html.P(" · ".join(x for x in (page.get("district"), page.get("address")) if x), className="ticket-place"),
        citizen, _map(page, lang),
    ], className="ticket-request")
    clocks = html.Section([html.H3(words["clocks"])] + [_clock(c, words, tz, lang) for c in page["clocks"]],
                          className="ticket-clocks")
    records = html.Section([html.H3(words["records"]), html.Ul([
        html.Li([names["channels"].get(r["channel"], r["channel"]), " ", r["external_id"], " · ",
                 words["merged_record"] if r["merged"] else words["own_record"], " · ", _local(r["received_at"], tz),
                 " · ", reply.get(r["reply"], r["reply"])]) for r in page["records"]])])
    side = [clocks, records]
    if page["orders"]:
        side.append(html.Section([html.H3(words["orders"]), html.Ul([
            html.Li([o["number"], " · ", o["status"], " · ", gettext(PAGE_TEXT["due"], lang, at=_local(o["due_at"], tz)),
                     " · ", html.A("PDF", href=f"/api/v1/supervision/orders/{o['number']}.pdf", target="_blank",
                                   className="order-pdf"),
                     html.Div(o.get("answer") or o.get("note") or "", className="ticket-note")])
            for o in page["orders"]])]))
    if page["letters"]:
        side.append(html.Section([html.H3(words["letters"]), html.Ul([
            html.Li([l["number"], " · ", _local(l["issued_at"], tz), " · ",
                     html.A("PDF", href=f"/api/v1/supervision/letters/{l['number']}.pdf", target="_blank",
                            className="order-pdf"),
                     html.Div(l["text"], className="ticket-note")])
            for l in page["letters"]])]))
    if reveals is not None:
        side.append(html.Section([html.H3(words["reveals"]), html.Ul([
            html.Li([_local(r["at"], tz), " ", r.get("real_name") or r["actor"], " ",
                     r.get("police_number") or "", " ", r.get("remote_addr") or ""]) for r in reveals])],
            id="ticket-reveals"))
    return html.Div([head, html.Div([html.Div([request, html.Section([html.H3(words["timeline"]),
                                                                      _timeline(page, words, tz, lang)])],
                                              className="ticket-main"),
                                     html.Div(side, className="ticket-side")], className="ticket-columns")],
                    id="ticket-body", **queue._data(version=str(page["version"])))


def layout(lang: str = "zh-CN", *, page: Mapping[str, Any] | None = None, position: Mapping[str, Any] | None = None,
           timezone: str = "Asia/Shanghai", nav_items: Sequence[tuple[str, str]] = (), who: str = "",
           reveals: Sequence[Mapping[str, Any]] | None = None, units: Sequence[Mapping[str, Any]] = (),
           **_query: Any) -> html.Div:
    config = {"position": dict(position or {}), "number": page["number"] if page else None,
              "row": {k: page[k] for k in ("number", "version", "title", "unit_code")} if page else None,
              "units": list(units),
              "text": {**texts(queue.SCRIPT_TEXT, lang), **texts(duty.SCRIPT_TEXT, lang),
                       "steps": {**texts(queue.STEP_TEXT, lang), **texts(duty.STEP_TEXT, lang)},
                       "fields": {**texts(queue.FIELD_TEXT, lang), **texts(duty.FIELD_TEXT, lang)},
                       "contact": gettext(queue.SCRIPT_TEXT["contact"], lang),
                       "resolve": gettext(queue.SCRIPT_TEXT["resolve"], lang)}}
    return html.Div([
        html.Header([
            html.H1(gettext(TITLE, lang), className="work-title"),
            queue.nav(nav_items, "/ticket", lang),
            html.Div([html.Span(who, className="work-who"),
                      html.Span(gettext("Connecting…", lang), id="ticket-conn", className="conn conn-wait"),
                      html.A(switch_label(lang), href=f"?lang={other_language(lang)}", className="lang-switch"),
                      html.A(gettext("Log out", lang), href="/logout", className="work-logout")],
                     className="work-status"),
        ], className="work-header"),
        html.Div("", id="ticket-message", className="work-message", role="status"),
        html.Div(body(page, lang, timezone, reveals), id="ticket-page", className="ticket-page"),
        dcc.Store(id="ticket-refresh", data=0),
        marker("ticket", lang, timezone, config),
    ], className="work work-ticket", lang=lang)
