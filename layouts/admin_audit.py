"""审计日志 (/admin/audit): who did what, filtered by person, ticket, action and time, newest
first, a page at a time, and whether the hash chain is intact (verified up to row N, or broken
at row N). Read-only: the log has no way to change it."""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from dash import dcc, html

from layouts.i18n import N_, gettext

TEXT = {
    "actor": N_("Person"), "ticket": N_("Ticket"), "action": N_("Action"), "since": N_("From"),
    "until": N_("To"), "any_action": N_("Every action"), "filter": N_("Filter"), "clear": N_("Clear"),
    "at": N_("Time"), "target": N_("About"), "details": N_("Details"), "id": N_("Row"),
    "older": N_("Older entries"), "newest": N_("Newest entries"), "none": N_("No entries match"),
    "intact": N_("Hash chain intact: verified up to row %(checked)s"),
    "empty_chain": N_("The log is empty"),
    "broken": N_("Hash chain broken at row %(row)s (%(reason)s): a row was changed, removed or moved; "
                 "rows before it are intact (%(checked)s)"),
    "reason_hash": N_("this row was changed"), "reason_prev_hash": N_("a row before it was changed or removed"),
    "summary": N_("%(rows)s entries"),
}
# What each action is called (an action without a name here shows its code).
ACTION_TEXT = {
    "login": N_("Logged in"), "login_failed": N_("Login failed"), "login_locked_out": N_("Login locked out"),
    "reveal": N_("Revealed a citizen's details"), "intake": N_("Intake"), "dispatched": N_("Dispatched"),
    "return": N_("Returned"), "accept": N_("Accepted"), "contact": N_("Contacted the citizen"),
    "report": N_("Reported"), "approve": N_("Approved"), "send_back": N_("Sent back"), "reply": N_("Replied"),
    "close": N_("Closed"), "redo": N_("Reopened"), "request_extension": N_("Asked for an extension"),
    "extension_decided": N_("Decided an extension"), "merge": N_("Merged"), "unmerge": N_("Unmerged"),
    "user_create": N_("Created an account"), "user_set_phone": N_("Set an account's phone"),
    "user_deactivate": N_("Deactivated an account"), "token_create": N_("Issued an API token"),
    "kiosk_create": N_("Issued a kiosk link"), "token_revoke": N_("Revoked a token"),
    "calendar_load": N_("Loaded a calendar"), "bulletin_export": N_("Exported a bulletin"),
    "user_edit": N_("Edited an account"), "user_reactivate": N_("Reactivated an account"),
    "user_password_reset": N_("Reset a password"), "user_access_ended": N_("Ended an account's sessions and tokens"),
    "feed_key_create": N_("Made a feed key"), "feed_key_rotate": N_("Rotated a feed key"),
    "feed_key_revoke": N_("Revoked a feed key"),
    "calendar_day": N_("Marked a calendar day"), "unit_add": N_("Added a unit"), "unit_rename": N_("Renamed a unit"),
    "unit_move": N_("Moved a unit"), "unit_deactivate": N_("Deactivated a unit"),
    "unit_topics": N_("Changed a unit's topics"), "unit_rehome": N_("Re-homed a unit's open tickets"),
    "rehome": N_("Re-homed a ticket"), "jurisdictions_check": N_("Checked a jurisdiction file"),
    "jurisdictions_apply": N_("Applied a jurisdiction file"),
    "jurisdictions_discard": N_("Discarded a jurisdiction file"),
    "sla_version_create": N_("Made a deadline rules version"),
    "sla_version_withdraw": N_("Withdrew a deadline rules version"),
}


def summary(lang: str, rows: int = 0, **_: Any) -> str:
    return gettext(TEXT["summary"], lang, rows=rows)


def action_name(action: str, lang: str) -> str:
    return gettext(ACTION_TEXT[action], lang) if action in ACTION_TEXT else action


def _chain(chain: Mapping[str, Any], lang: str) -> html.Div:
    if chain.get("broken_at") is not None:
        reason = gettext(TEXT[f"reason_{chain.get('reason')}"], lang) if f"reason_{chain.get('reason')}" in TEXT else ""
        return html.Div(gettext(TEXT["broken"], lang, row=chain["broken_at"], reason=reason, checked=chain["checked"]),
                        className="admin-chain admin-chain-broken", id="admin-audit-chain")
    words = TEXT["intact"] if chain.get("checked") else TEXT["empty_chain"]
    return html.Div(gettext(words, lang, checked=chain.get("checked", 0)), className="admin-chain admin-chain-ok",
                    id="admin-audit-chain")


def _filters(filters: Mapping[str, str], actions: Sequence[str], lang: str) -> html.Form:
    def box(name: str, placeholder: str = "") -> html.Label:
        return html.Label([html.Span(gettext(TEXT[name], lang), className="admin-label"),
                           dcc.Input(name=name, value=filters.get(name, ""), type="text", className="admin-input",
                                     maxLength=64, debounce=True, placeholder=placeholder)], className="admin-field")

    options = [html.Option(gettext(TEXT["any_action"], lang), value="")] + [
        html.Option(action_name(a, lang), value=a, selected=a == filters.get("action")) for a in actions]
    return html.Form([
        box("actor"), box("ticket"),
        html.Label([html.Span(gettext(TEXT["action"], lang), className="admin-label"),
                    html.Select(options, name="action", className="admin-input")], className="admin-field"),
        box("since", "YYYY-MM-DD"), box("until", "YYYY-MM-DD"),
        dcc.Input(type="hidden", name="lang", value=lang),
        html.Button(gettext(TEXT["filter"], lang), type="submit", className="step step-primary"),
        html.A(gettext(TEXT["clear"], lang), href=f"/admin/audit?lang={lang}", className="step"),
    ], method="get", action="/admin/audit", className="admin-form admin-filters", id="admin-audit-filters")


def _local(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def _details(details: Mapping[str, Any]) -> str:
    return json.dumps(details, ensure_ascii=False, sort_keys=True)[:300] if details else ""


def layout(lang: str = "zh-CN", *, rows: Sequence[Mapping[str, Any]] = (), older: int | None = None,
           filters: Mapping[str, str] | None = None, chain: Mapping[str, Any] | None = None,
           timezone: str = "Asia/Shanghai", actions: Sequence[str] = (), **_: Any) -> html.Div:
    filters = filters or {}
    tz = ZoneInfo(timezone)
    head = [gettext(TEXT[k], lang) for k in ("id", "at", "actor", "action", "ticket", "target", "details")]
    body = [html.Tr([html.Td(r["id"]), html.Td(_local(r["at"], tz)), html.Td(r["actor"]),
                     html.Td(action_name(r["action"], lang)), html.Td(r.get("ticket") or ""),
                     html.Td(r.get("target") or ""), html.Td(_details(r.get("details") or {}), className="admin-details")],
                    className=f"admin-audit-row admin-audit-{r['action']}") for r in rows]
    query = urlencode({k: v for k, v in filters.items() if v})
    paging = [html.A(gettext(TEXT["newest"], lang), href=f"/admin/audit?lang={lang}&{query}", className="step")]
    if older is not None:
        paging.append(html.A(gettext(TEXT["older"], lang), href=f"/admin/audit?lang={lang}&{query}&before={older}",
                             className="step", id="admin-audit-older"))
    return html.Div([
        _chain(chain or {}, lang),
        _filters(filters, actions, lang),
        html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)],
                   className="admin-table", id="admin-audit-table") if rows else
        html.P(gettext(TEXT["none"], lang), className="admin-empty"),
        html.Div(paging, className="admin-paging"),
    ], className="admin-audit")
