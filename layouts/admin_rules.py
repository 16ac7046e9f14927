"""时限规则 (/admin/rules): the deadline rules as versions. The rules in force now in words, every
version with its instant, author and what it changed, and (admins) a form for the next version
with, before it is saved, what it would have done to last week's tickets, per branch."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from dash import dcc, html
from dash.development.base_component import Component

from layouts.admin_forms import action, field, select, table, text_input
from layouts.i18n import N_, gettext, labels, percent
from tickets.vocabulary import SLA_CLASSES

TEXT = {
    "in_force": N_("Rules in force now: version %(number)s"),
    "since": N_("since %(at)s"), "from_start": N_("from the beginning"),
    "contact": N_("Contact the citizen within"), "contact_value": N_("%(hours)s h of dispatch, day and night"),
    "resolve": N_("Close a %(sla_class)s ticket within"), "days": N_("%(days)s working days (%(hours)s working hours)"),
    "hours": N_("Working hours"), "hours_value": N_("%(periods)s, %(hours)s h a working day"),
    "amber": N_("Amber warning"), "amber_value": N_("at %(share)s of the allowed time (red at 100%%)"),
    "pause": N_("Clock while an extension is pending"), "pause_yes": N_("paused"), "pause_no": N_("runs on"),
    "overrides": N_("Overrides"), "no_overrides": N_("No overrides: every channel and topic has these rules"),
    "channel": N_("Channel %(name)s"), "topic": N_("Topic %(name)s"),
    "versions": N_("Versions"), "number": N_("Version"), "effective": N_("Applies to tickets dispatched from"),
    "state": N_("State"), "past": N_("Superseded"), "current": N_("In force"), "pending": N_("Scheduled"),
    "withdrawn": N_("Withdrawn by %(by)s at %(at)s"), "withdraw": N_("Withdraw"),
    "withdraw_confirm": N_("Withdraw version %(number)s? It will never apply."),
    "by": N_("Made by"), "made": N_("Made at"), "note": N_("Note"), "changes": N_("Changes"),
    "fingerprint": N_("Fingerprint"), "file": N_("the policy file %(name)s"), "first": N_("the first rules"),
    "kept": N_("A version is never edited: a change is a new version; a scheduled one may be withdrawn before it "
               "takes effect. Tickets keep the version in force when they were first dispatched, a redo or an "
               "extension included."),
    "new": N_("New version"),
    "new_help": N_("Starts from version %(number)s. It applies to tickets dispatched from its instant, which is "
                   "at least %(lead)s minutes from now (every process must know it first) and after every "
                   "version made."),
    "f_contact": N_("Contact within (hours)"), "f_resolve": N_("%(sla_class)s (working days)"),
    "f_hours": N_("Working hours"), "f_amber": N_("Amber at (percent of the time)"),
    "f_pause": N_("Pause while extension pending"),
    "yes": N_("Yes"), "no": N_("No"), "f_overrides": N_("Overrides per channel and topic (YAML)"),
    "f_effective": N_("Applies from (%(tz)s)"), "f_note": N_("Why (for the record)"),
    "preview": N_("Preview: last week under these rules"), "save": N_("Save the new version"),
    "confirm": N_("Save this version? It cannot be changed afterwards."),
    "preview_title": N_("Week %(week)s re-judged: the rules each ticket had → this draft"),
    "preview_help": N_("Computed now from the week's tickets (received that week, imported history left out), "
                       "each from its first dispatch with its approved extensions; nothing is stored."),
    "branch": N_("Branch"), "tickets": N_("Tickets"), "contact_late": N_("Contact late"),
    "resolve_late": N_("Closed late or overdue"), "on_time": N_("On-time rate"), "total": N_("All units"),
    "no_unit": N_("No branch"), "no_tickets": N_("No tickets were received last week"),
    "invalid": N_("These rules are not valid: %(reason)s"),
    "summary": N_("Version %(number)s in force; %(count)s versions"),
    "summary_pending": N_("Version %(number)s in force; version %(next)s from %(at)s"),
}
RULE_NAMES = {
    "contact_hours": N_("contact hours"), "amber_share": N_("amber share"), "working_hours": N_("working hours"),
    "pause_while_extension_pending": N_("pause while an extension is pending"),
    "resolve_working_days": N_("working days to close"),
}


def _local(iso: str | None, tz: ZoneInfo) -> str:
    return datetime.fromisoformat(iso).astimezone(tz).strftime("%Y-%m-%d %H:%M") if iso else ""


def _number(value: Any) -> str:
    return f"{float(value):g}"


def _class_name(sla_class: str, lang: str) -> str:
    return sla_class if lang == "en" else SLA_CLASSES.get(sla_class, sla_class)  # English: the code is the word


def summary(lang: str, number: int = 1, count: int = 1, next_number: int | None = None, next_at: str = "",
            **_: Any) -> str:
    if next_number is not None:
        return gettext(TEXT["summary_pending"], lang, number=number, next=next_number, at=next_at)
    return gettext(TEXT["summary"], lang, number=number, count=count)


def _rule_words(name: str, value: Any, lang: str) -> str:
    """One overridden rule in words: ``contact hours 0.5`` / ``working days to close: 咨询类 2``."""
    if name == "resolve_working_days" and isinstance(value, Mapping):
        days = "、".join(f"{_class_name(k, lang)} {_number(v)}" for k, v in value.items())
        return f"{gettext(RULE_NAMES[name], lang)}: {days}"
    if isinstance(value, list):
        value = "、".join(value)
    elif isinstance(value, bool):
        value = gettext(TEXT["yes"] if value else TEXT["no"], lang)
    return f"{gettext(RULE_NAMES.get(name, name), lang)} {value}"


def rules_panel(rules: Mapping[str, Any], number: int, since: str, lang: str) -> html.Section:
    """The rules in words, as a ticket dispatched now gets them."""
    periods = [p.replace("-", "–") for p in rules["working_hours"]]
    day_hours = sum(int(e[:2]) * 60 + int(e[3:]) - int(b[:2]) * 60 - int(b[3:])
                    for b, e in (p.split("-") for p in rules["working_hours"])) / 60
    rows: list[tuple[str, str]] = [
        (gettext(TEXT["contact"], lang), gettext(TEXT["contact_value"], lang, hours=_number(rules["contact_hours"]))),
    ]
    for sla_class, days in rules["resolve_working_days"].items():
        rows.append((gettext(TEXT["resolve"], lang, sla_class=_class_name(sla_class, lang)),
                     gettext(TEXT["days"], lang, days=_number(days), hours=_number(days * day_hours))))
    rows += [
        (gettext(TEXT["hours"], lang), gettext(TEXT["hours_value"], lang, periods="、".join(periods),
                                               hours=_number(day_hours))),
        (gettext(TEXT["amber"], lang), gettext(TEXT["amber_value"], lang, share=percent(rules["amber_share"]))),
        (gettext(TEXT["pause"], lang),
         gettext(TEXT["pause_yes"] if rules["pause_while_extension_pending"] else TEXT["pause_no"], lang)),
    ]
    names = labels(lang)
    overrides = [(gettext(TEXT[kind], lang, name=names[f"{kind}s"].get(name, name)),
                  "；".join(_rule_words(k, v, lang) for k, v in changes.items()))
                 for kind in ("channel", "topic") for name, changes in sorted((rules.get(f"{kind}s") or {}).items())]
    return html.Section([
        html.H2([gettext(TEXT["in_force"], lang, number=number),
                 html.Span(since, className="admin-muted admin-since")]),
        html.Dl([part for label, value in rows for part in (html.Dt(label), html.Dd(value))],
                className="admin-rules-list", id="admin-rules-current"),
        html.H3(gettext(TEXT["overrides"], lang)),
        html.Dl([part for label, value in overrides for part in (html.Dt(label), html.Dd(value))],
                className="admin-rules-list") if overrides else
        html.P(gettext(TEXT["no_overrides"], lang), className="admin-muted"),
    ], className="admin-panel admin-rules-now")


def _rule_label(path: str, lang: str) -> str:
    """A changed rule's dotted name in words: ``topics.fraud.resolve_working_days.service`` is
    "Topic 诈骗: working days to close 管理服务类"."""
    parts = path.split(".")
    where = ""
    if parts[0] in ("channels", "topics") and len(parts) > 2:
        kind = parts[0][:-1]
        where = gettext(TEXT[kind], lang, name=labels(lang)[parts[0]].get(parts[1], parts[1])) + " · "
        parts = parts[2:]
    if parts[0] == "resolve_working_days" and len(parts) > 1:
        return where + gettext(TEXT["f_resolve"], lang, sla_class=_class_name(parts[1], lang))
    return where + (gettext(RULE_NAMES[parts[0]], lang) if parts[0] in RULE_NAMES else parts[0])


def _changes(changes: Sequence[Mapping[str, Any]], lang: str) -> Component:
    if not changes:
        return html.Span("–", className="admin-muted")
    return html.Ul([html.Li(f"{_rule_label(c['rule'], lang)}: {_shown(c['from'])} → {_shown(c['to'])}")
                    for c in changes], className="admin-rules-changes")


def _shown(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return _number(value)
    return str(value)


def _state(v: Mapping[str, Any], tz: ZoneInfo, writable: bool, lang: str) -> Component:
    states = {"past": TEXT["past"], "in_force": TEXT["current"], "pending": TEXT["pending"]}
    if v["state"] == "withdrawn":
        words = gettext(TEXT["withdrawn"], lang, by=v["withdrawn_by"] or "", at=_local(v["withdrawn_at"], tz))
        return html.Span(words, className="admin-rules-state admin-rules-withdrawn")
    badge = html.Span(gettext(states[v["state"]], lang), className=f"admin-rules-state admin-rules-{v['state']}")
    if v["state"] != "pending" or not writable:
        return badge
    url = f"/api/v1/admin/rules/versions/{v['number']}/withdraw"
    return html.Span([badge, action(url, gettext(TEXT["withdraw"], lang),
                                    confirm=gettext(TEXT["withdraw_confirm"], lang, number=v["number"]),
                                    className="admin-action-danger admin-rules-withdraw")],
                     className="admin-actions")


def versions_panel(versions: Sequence[Mapping[str, Any]], tz: ZoneInfo, lang: str,
                   writable: bool = False) -> html.Section:
    rows = []
    for v in reversed(versions):  # the newest first
        seeded = not v["stored"] or (v["number"] == 1 and v["created_by"] == "system")  # the policy file's
        note = gettext(TEXT["file"], lang, name=v["note"]) if seeded else v["note"]
        rows.append([
            f"v{v['number']}",
            _local(v["effective_from"], tz) or gettext(TEXT["from_start"], lang),
            _state(v, tz, writable, lang),
            v["created_by"] or "–", _local(v["created_at"], tz) or "–", note,
            _changes(v.get("changes") or [], lang) if v["number"] > 1 else gettext(TEXT["first"], lang),
            html.Code(v["fingerprint"]),
        ])
    header = [gettext(TEXT[k], lang) for k in ("number", "effective", "state", "by", "made", "note", "changes",
                                                "fingerprint")]
    return html.Section([html.H2(gettext(TEXT["versions"], lang)),
                         html.P(gettext(TEXT["kept"], lang), className="admin-muted"),
                         html.Div(table(header, rows, "admin-rules-versions"), id="admin-rules-versions")],
                        className="admin-panel")


def _number_input(name: str, value: Any) -> dcc.Input:
    """A positive number, fractions allowed (0.5 working days): the browser's default step is 1."""
    return dcc.Input(name=name, value=_number(value), type="number", step="any", min=0, required=True,
                     className="admin-input", debounce=True)


def form_panel(base: Mapping[str, Any], base_number: int, overrides: str, earliest: str, suggested: str,
               timezone: str, lead: float, lang: str) -> html.Section:
    resolve = [field(gettext(TEXT["f_resolve"], lang, sla_class=_class_name(name, lang)),
                     _number_input(f"resolve_{name}", days))
               for name, days in base["resolve_working_days"].items()]
    fields: list[Component] = [
        field(gettext(TEXT["f_contact"], lang), _number_input("contact_hours", base["contact_hours"])),
        *resolve,
        field(gettext(TEXT["f_hours"], lang), text_input("working_hours", ", ".join(base["working_hours"]),
                                                          required=True), "admin-rules-wide"),
        field(gettext(TEXT["f_amber"], lang), _number_input("amber_percent", base["amber_share"] * 100)),
        field(gettext(TEXT["f_pause"], lang),
              select("pause_while_extension_pending", [("true", gettext(TEXT["yes"], lang)),
                                                       ("false", gettext(TEXT["no"], lang))],
                     "true" if base["pause_while_extension_pending"] else "false")),
        field(gettext(TEXT["f_overrides"], lang),
              dcc.Textarea(name="overrides", value=overrides, className="admin-input admin-rules-yaml",
                           placeholder="topics:\n  fraud:\n    resolve_working_days: {enforcement: 2}"),
              "admin-rules-full"),
        field(gettext(TEXT["f_effective"], lang, tz=timezone),
              text_input("effective_from", suggested, required=True, placeholder=earliest,
                         pattern=r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?"), "admin-rules-when"),
        field(gettext(TEXT["f_note"], lang), text_input("note", required=True, maxlength=500), "admin-rules-wide"),
        html.Button(gettext(TEXT["preview"], lang), type="button", id="admin-rules-preview-button",
                    className="step admin-submit"),
        text_input("from_form", "1", kind="hidden"),  # the whole form: an emptied field means none
    ]
    attrs: dict[str, Any] = {"data-admin-post": "/api/v1/admin/rules/versions",
                             "data-confirm": gettext(TEXT["confirm"], lang)}
    return html.Section([
        html.H2(gettext(TEXT["new"], lang)),
        html.P(gettext(TEXT["new_help"], lang, number=base_number, lead=_number(lead)), className="admin-muted"),
        html.Form([*fields, html.Button(gettext(TEXT["save"], lang), type="submit",
                                        className="step step-primary admin-submit", id="admin-rules-save")],
                  className="admin-form admin-rules-form", id="admin-rules-form", **attrs),
        dcc.Store(id="admin-rules-draft"),
        dcc.Loading(html.Div(id="admin-rules-preview"), type="dot"),
    ], className="admin-panel")


def _figure(before: Any, after: Any, worse_if_higher: bool = True) -> Component:
    if before == after:
        return html.Span(str(before))
    worse = (after > before) == worse_if_higher
    return html.Span([f"{before} → ", html.B(str(after), className="admin-bad" if worse else "admin-good")])


def _rate(before: float | None, after: float | None) -> Component:
    if before == after:
        return html.Span(percent(before))
    worse = (after or 0) < (before or 0)
    return html.Span([f"{percent(before)} → ",
                      html.B(percent(after), className="admin-bad" if worse else "admin-good")])


def preview(lang: str, result: Mapping[str, Any] | None = None, error: str | None = None) -> Component:
    """What the draft would have done to last week's figures (or why it cannot be judged)."""
    if error is not None:
        return html.P(gettext(TEXT["invalid"], lang, reason=error), className="admin-bad", id="admin-rules-invalid")
    if result is None:
        return html.Div()
    if not result["total"]["before"]["tickets"]:
        return html.P(gettext(TEXT["no_tickets"], lang), className="admin-muted", id="admin-rules-impact")

    def line(row: Mapping[str, Any], name: str) -> list[Any]:
        b, a = row["before"], row["after"]
        return [name, b["tickets"], _figure(b["contact_breaches"], a["contact_breaches"]),
                _figure(b["resolve_breaches"], a["resolve_breaches"]), _rate(b["on_time_rate"], a["on_time_rate"])]

    rows = [line(r, r["name"] or gettext(TEXT["no_unit"], lang)) for r in result["branches"]]
    rows.append(line(result["total"], gettext(TEXT["total"], lang)))
    header = [gettext(TEXT[k], lang) for k in ("branch", "tickets", "contact_late", "resolve_late", "on_time")]
    return html.Div([
        html.H3(gettext(TEXT["preview_title"], lang, week=result["week"])),
        html.P(gettext(TEXT["preview_help"], lang), className="admin-muted"),
        table(header, rows, "admin-rules-impact-table"),
    ], id="admin-rules-impact")


def layout(lang: str = "zh-CN", *, writable: bool = False, versions: Sequence[Mapping[str, Any]] = (),
           timezone: str = "Asia/Shanghai", earliest: str = "", suggested: str = "", lead: float = 10,
           overrides: str = "", **_: Any) -> html.Div:
    tz = ZoneInfo(timezone)
    current = next(v for v in versions if v["state"] == "in_force")
    since = gettext(TEXT["since"], lang, at=_local(current["effective_from"], tz)) if current["effective_from"] \
        else gettext(TEXT["from_start"], lang)
    last = [v for v in versions if v["state"] != "withdrawn"][-1]
    parts: list[Component] = [rules_panel(current["rules"], current["number"], since, lang),
                              versions_panel(versions, tz, lang, writable)]
    if writable:
        parts.insert(1, form_panel(last["rules"], last["number"], overrides, earliest, suggested, timezone, lead,
                                   lang))
    return html.Div(parts, className="admin-rules")
