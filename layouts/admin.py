"""平台管理 (/admin): the platform office's own pages, one section each.

``/admin`` is the index (a card per section with its one-line summary); ``/admin/<section>``
is a section page. Each section is a pure layout of its own, ``layouts/admin_<section>.py``
(``layout(lang, **data)`` and ``summary(lang, **counts)``), named in :data:`SECTIONS`; its data
comes from ``callbacks/admin_<section>.py``. Writes are forms and buttons the page's script
(``assets/admin.js``) posts to ``/api/v1/admin/<section>/…``, made with ``layouts/admin_forms.py``
(``form(url, fields, submit)``, ``action(url, label)``). Supervisors see every section without
them (``writable`` is False).
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dash import dcc, html
from dash.development.base_component import Component

from layouts import admin_accounts, admin_audit, admin_calendar, admin_feeds, admin_rules, admin_units, admin_walls
from layouts.i18n import N_, gettext, other_language, switch_label, texts
from layouts.queue import nav

TITLE = N_("Platform office")


@dataclass(frozen=True)
class Section:
    """One section of /admin: its title (an English msgid), its layout, its card's line."""

    title: str
    layout: Callable[..., Component]  # layout(lang, writable=…, **data)
    summary: Callable[..., str] | None = None  # summary(lang, **counts): the index card's line


# The sections in the order of the section navigation (one line each), as issue 19 lists them.
SECTIONS: dict[str, Section] = {
    "units": Section(N_("Units"), admin_units.layout, admin_units.summary),
    "accounts": Section(N_("Accounts"), admin_accounts.layout, admin_accounts.summary),
    "rules": Section(N_("Deadline rules"), admin_rules.layout, admin_rules.summary),
    "calendar": Section(N_("Working calendar"), admin_calendar.layout, admin_calendar.summary),
    "feeds": Section(N_("Feeds"), admin_feeds.layout, admin_feeds.summary),
    "walls": Section(N_("Wall screens"), admin_walls.layout, admin_walls.summary),
    "audit": Section(N_("Audit log"), admin_audit.layout, admin_audit.summary),
}

# Words the page's script writes (assets/admin.js).
SCRIPT_TEXT = {
    "saved": N_("Saved"), "failed": N_("Not saved: %(message)s"), "confirm": N_("Confirm"), "cancel": N_("Cancel"),
    "once": N_("Shown once only: copy it now. It cannot be shown again."), "copy": N_("Copy"),
    "copied": N_("Copied"), "close": N_("Close"),
}
PAGE_TEXT = {
    "read_only": N_("Read only: only an admin changes these settings"),
    "unknown": N_("No such section: %(section)s"),
    "index": N_("Overview"),
}


# ------------------------------------------------------------------- the page
def _data_config(config: Mapping[str, Any]) -> dict[str, Any]:
    return {"data-config": json.dumps(config, ensure_ascii=False)}



def _section_nav(current: str, lang: str) -> html.Nav:
    links = [("", gettext(PAGE_TEXT["index"], lang))] + [(k, gettext(s.title, lang)) for k, s in SECTIONS.items()]
    return html.Nav([html.A(label, href=f"/admin{'/' + k if k else ''}?lang={lang}",
                            className="admin-tab admin-tab-current" if k == current else "admin-tab")
                     for k, label in links], className="admin-tabs", id="admin-tabs")


def index(lang: str, summaries: Mapping[str, Mapping[str, Any]]) -> html.Div:
    cards = []
    for name, section in SECTIONS.items():
        counts = summaries.get(name)
        line = section.summary(lang, **counts) if section.summary is not None and counts is not None else ""
        cards.append(html.A([html.H2(gettext(section.title, lang)), html.P(line, className="admin-card-line")],
                            href=f"/admin/{name}?lang={lang}", className="admin-card", id=f"admin-card-{name}"))
    return html.Div(cards, className="admin-cards")


def body(lang: str, item: str, section: Mapping[str, Any] | None, writable: bool) -> Component:
    """The section's own layout with its data (the part the script has re-rendered after a write)."""
    found = SECTIONS.get(item)
    if found is None:
        return html.P(gettext(PAGE_TEXT["unknown"], lang, section=item), className="admin-empty")
    return found.layout(lang, writable=writable, **(section or {}))


def layout(lang: str = "zh-CN", *, item: str = "", nav_items: Sequence[tuple[str, str]] = (), who: str = "",
           writable: bool = False, section: Mapping[str, Any] | None = None,
           summaries: Mapping[str, Mapping[str, Any]] | None = None, **_query: Any) -> html.Div:
    config = {"lang": lang, "section": item, "text": texts(SCRIPT_TEXT, lang)}
    content = index(lang, summaries or {}) if not item else body(lang, item, section, writable)
    return html.Div([
        html.Header([
            html.H1(gettext(TITLE, lang), className="work-title"),
            nav(nav_items, "/admin", lang),
            html.Div([html.Span(who, className="work-who"),
                      html.A(switch_label(lang), href=f"?lang={other_language(lang)}", className="lang-switch"),
                      html.A(gettext("Log out", lang), href="/logout", className="work-logout")],
                     className="work-status"),
        ], className="work-header"),
        _section_nav(item, lang),
        html.Div(gettext(PAGE_TEXT["read_only"], lang), className="admin-read-only") if not writable else None,
        html.Div(id="admin-message", className="work-message admin-message", role="status"),
        html.Main(content, id="admin-section", className=f"admin-body admin-{item or 'index'}"),
        dcc.Store(id="admin-refresh", data=0),
        html.Div(id="admin-config", hidden=True, **_data_config(config)),
    ], className="work work-admin", lang=lang)
