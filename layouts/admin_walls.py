"""大屏管理 (/admin/walls): the kiosk links of the command centre's and the branches' walls: which
screen each opens, whose scope, when a wall last connected with it; for an admin, issue one (the
URL shown once, to copy into the wall's browser) and revoke one (its walls go dark within seconds)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from dash import html

from layouts.admin_forms import action, field, form, select, text_input
from layouts.i18n import N_, gettext

TEXT = {
    "new": N_("New kiosk link"), "label": N_("Wall"), "screen": N_("Screen"), "playlist": N_("Or a playlist"),
    "every": N_("Seconds per screen"), "scope": N_("Scope"), "city": N_("The whole city"), "issue": N_("Issue"),
    "links": N_("Kiosk links"), "created": N_("Issued"), "last": N_("Last connected"), "state": N_("State"),
    "never": N_("Never"), "live": N_("In use"), "revoked": N_("Revoked %(at)s"), "revoke": N_("Revoke"),
    "actions": N_("Actions"), "none": N_("No kiosk links yet"),
    "confirm_revoke": N_("Revoke the kiosk link of %(label)s? Its walls stop within seconds."),
    "playlist_hint": N_("overview,map,rankings,duty"),
    "once_hint": N_("The link is shown once after issuing: open it in the wall's browser."),
    "summary": N_("%(live)s kiosk links in use"),
}
SCREEN_TEXT = {"overview": N_("Wall: overview"), "map": N_("Wall: map"), "rankings": N_("Wall: unit rankings"),
               "duty": N_("Wall: duty list"), "heatmap": N_("Full-screen heat map")}
URL = "/api/v1/admin/walls/links"


def summary(lang: str, live: int = 0, **_: Any) -> str:
    return gettext(TEXT["summary"], lang, live=live)


def _w(lang: str, key: str, **params: Any) -> str:
    return gettext(TEXT[key], lang, **params)


def _local(at: datetime | None, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if at is not None else ""


def _issue(lang: str, scopes: Sequence[Mapping[str, str]]) -> html.Section:
    screens = [(k, gettext(v, lang)) for k, v in SCREEN_TEXT.items()]
    units = [("", _w(lang, "city"))] + [(u["code"], f"{u['name']} ({u['code']})") for u in scopes]
    return html.Section([
        html.H2(_w(lang, "new")),
        form(URL, [field(_w(lang, "label"), text_input("label", required=True, maxlength=100)),
                   field(_w(lang, "screen"), select("screen", screens, "overview")),
                   field(_w(lang, "playlist"), text_input("playlist", maxlength=200,
                                                          placeholder=_w(lang, "playlist_hint")), "admin-wide"),
                   field(_w(lang, "every"), text_input("every", maxlength=4, pattern=r"\d+", placeholder="30")),
                   field(_w(lang, "scope"), select("unit", units, ""))], _w(lang, "issue")),
        html.P(_w(lang, "once_hint"), className="admin-muted"),
    ], className="admin-panel", id="admin-walls-new")


def layout(lang: str = "zh-CN", *, links: Sequence[Mapping[str, Any]] = (),
           scopes: Sequence[Mapping[str, str]] = (), timezone: str = "Asia/Shanghai", writable: bool = False,
           **_: Any) -> html.Div:
    tz = ZoneInfo(timezone)
    head = [_w(lang, k) for k in ("label", "screen", "scope", "created", "last", "state")]
    head += [_w(lang, "actions")] if writable else []
    rows = []
    for link in links:
        revoked = link.get("revoked_at")
        state = (html.Span(_w(lang, "revoked", at=_local(revoked, tz)), className="admin-bad") if revoked else
                 html.Span(_w(lang, "live"), className="admin-good"))
        cells: list[Any] = [link["label"], html.Code(link["screen"]),
                            link.get("unit_name") or _w(lang, "city"), _local(link["created_at"], tz),
                            _local(link.get("last_used_at"), tz) or _w(lang, "never"), state]
        if writable:
            cells.append(None if revoked else action(
                f"{URL}/{link['id']}/revoke", _w(lang, "revoke"), className="admin-action-danger admin-revoke",
                confirm=_w(lang, "confirm_revoke", label=link["label"])))
        rows.append(html.Tr([html.Td(c) for c in cells], id=f"admin-link-{link['id']}",
                            className="admin-link" + (" admin-muted" if revoked else "")))
    table = (html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)],
                        className="admin-table", id="admin-walls-table") if rows else
             html.P(_w(lang, "none"), className="admin-empty"))
    return html.Div([_issue(lang, scopes) if writable else None,
                     html.Section([html.H2(_w(lang, "links")), table], className="admin-panel")],
                    className="admin-walls")
