"""接入管理 (/admin/feeds): each 12345 source and Open311 client with its keys (never a secret:
when each was made and by whom, until when a rotated one is still accepted, when it last vouched
for a request), the records it took in and refused over the last day, and the day's dead letters
with their reasons. For an admin: a first key, a rotation with an overlap (both keys accepted
until it ends), a revocation; a new key is shown once."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from dash import html

from layouts.admin_forms import action, field, form, select, text_input
from layouts.i18n import N_, gettext

TEXT = {
    "hotline": N_("12345 hotline sources"), "open311": N_("Open311 clients"), "source": N_("Source"),
    "client": N_("Client"), "keys": N_("Keys"), "accepted": N_("Taken in (24 h)"), "refused": N_("Refused (24 h)"),
    "actions": N_("Actions"), "from_file": N_("The source file's or the settings' key"), "no_key": N_("No key"),
    "key": N_("Key #%(id)s, made %(at)s by %(by)s"), "seeded": N_("copied from the file or the settings"),
    "until": N_("accepted until %(at)s"), "expired": N_("ended %(at)s"), "revoked": N_("revoked %(at)s"),
    "seen": N_("last seen %(at)s"), "never": N_("never seen"), "revoke": N_("Revoke"),
    "rotate": N_("Rotate"), "overlap": N_("Overlap (hours)"), "create": N_("Make a key"),
    "new_client": N_("New Open311 client"), "name": N_("Client name"),
    "letters": N_("Dead letters of the last 24 hours"), "at": N_("Received"), "channel": N_("Channel"),
    "reasons": N_("Reasons"), "none": N_("None"), "state": N_("State"),
    "confirm_revoke": N_("Revoke key #%(id)s of %(source)s? Requests signed with it are refused at once."),
    "confirm_rotate": N_("Rotate the key of %(source)s? The new key is shown once; the old one is accepted until "
                         "the overlap ends."),
    "summary": N_("%(keys)s keys accepted, %(dead_letters)s dead letters in 24 h"),
    "refused_all": N_("Refused Open311 requests (24 h): %(count)s"),
}
URL = "/api/v1/admin/feeds/keys"


def summary(lang: str, keys: int = 0, dead_letters: int = 0, **_: Any) -> str:
    return gettext(TEXT["summary"], lang, keys=keys, dead_letters=dead_letters)


def _w(lang: str, key: str, **params: Any) -> str:
    return gettext(TEXT[key], lang, **params)


def _local(at: datetime | None, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if at is not None else ""


def _key(lang: str, k: Mapping[str, Any], source: str, tz: ZoneInfo, now: datetime | None,
         writable: bool) -> html.Li:
    parts = [_w(lang, "key", id=k["id"], at=_local(k["created_at"], tz), by=k["created_by"])]
    if k.get("seeded"):
        parts.append(_w(lang, "seeded"))
    live = k.get("revoked_at") is None and (k.get("valid_until") is None or now is None or k["valid_until"] > now)
    if k.get("revoked_at") is not None:
        parts.append(_w(lang, "revoked", at=_local(k["revoked_at"], tz)))
    elif k.get("valid_until") is not None:
        parts.append(_w(lang, "until" if live else "expired", at=_local(k["valid_until"], tz)))
    parts.append(_w(lang, "seen", at=_local(k["last_seen_at"], tz)) if k.get("last_seen_at") else _w(lang, "never"))
    button = action(f"{URL}/{k['id']}/revoke", _w(lang, "revoke"), className="admin-action-danger admin-revoke-key",
                    confirm=_w(lang, "confirm_revoke", id=k["id"], source=source)) if writable and live else None
    return html.Li([html.Span(" · ".join(parts)), button], className="admin-key" + ("" if live else " admin-muted"),
                   id=f"admin-key-{k['id']}")


def _keys(lang: str, item: Mapping[str, Any], tz: ZoneInfo, now: datetime | None, writable: bool) -> html.Ul:
    keys = [_key(lang, k, item["name"], tz, now, writable) for k in item["keys"]]
    if not keys:
        keys = [html.Li(_w(lang, "from_file" if item.get("has_file_secret") else "no_key"), className="admin-key")]
    return html.Ul(keys, className="admin-keys")


def _manage(lang: str, channel: str, name: str, item: Mapping[str, Any], now: datetime | None) -> html.Div:
    live = any(k.get("revoked_at") is None and (k.get("valid_until") is None or now is None or k["valid_until"] > now)
               for k in item["keys"]) or (not item["keys"] and item.get("has_file_secret"))
    rotate = form(f"{URL}/rotate", [text_input("channel", channel, kind="hidden"), text_input("source", name, kind="hidden"),
                                    field(_w(lang, "overlap"), text_input("overlap_hours", "24", maxlength=6))],
                  _w(lang, "rotate"), confirm=_w(lang, "confirm_rotate", source=name), className="admin-rotate")
    create = action(URL, _w(lang, "create"), body={"channel": channel, "source": name}, className="admin-create-key")
    return html.Div([rotate if live else create], className="admin-actions")


def _table(lang: str, channel: str, items: Sequence[Mapping[str, Any]], tz: ZoneInfo, now: datetime | None,
           writable: bool) -> html.Table:
    who = "source" if channel == "hotline" else "client"
    head = [_w(lang, k) for k in (who, "keys", "accepted")] + ([_w(lang, "refused")] if channel == "hotline" else [])
    head += [_w(lang, "actions")] if writable else []
    rows = []
    for item in items:
        name = html.Div([html.Strong(item.get("label") or item["name"]), html.Div(item["name"], className="admin-muted")])
        cells: list[Any] = [name, _keys(lang, item, tz, now, writable), item["accepted"]]
        if channel == "hotline":
            cells.append(html.Span(item["refused"], className="admin-bad" if item["refused"] else ""))
        if writable:
            cells.append(_manage(lang, channel, item["name"], item, now))
        rows.append(html.Tr([html.Td(c) for c in cells], id=f"admin-feed-{channel}-{item['name']}"))
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], className="admin-table")


def _letters(lang: str, letters: Sequence[Mapping[str, Any]], tz: ZoneInfo) -> Any:
    if not letters:
        return html.P(_w(lang, "none"), className="admin-empty")
    head = [_w(lang, k) for k in ("at", "channel", "source", "reasons")]
    rows = [html.Tr([html.Td(_local(d["received_at"], tz)), html.Td(d["channel"]), html.Td(d["source"]),
                     html.Td(html.Ul([html.Li(r) for r in d["reasons"]], className="admin-reasons"))])
            for d in letters]
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], className="admin-table",
                      id="admin-dead-letters")


def layout(lang: str = "zh-CN", *, hotlines: Sequence[Mapping[str, Any]] = (),
           clients: Sequence[Mapping[str, Any]] = (), dead_letters: Sequence[Mapping[str, Any]] = (),
           open311_refused: int = 0, timezone: str = "Asia/Shanghai", now: datetime | None = None,
           writable: bool = False, **_: Any) -> html.Div:
    tz = ZoneInfo(timezone)
    new_client = form(URL, [text_input("channel", "open311", kind="hidden"),
                            field(_w(lang, "name"), text_input("source", required=True, maxlength=64,
                                                               pattern=r"[A-Za-z0-9_\-]{1,64}"))],
                      _w(lang, "new_client"), className="admin-new-client") if writable else None
    return html.Div([
        html.Section([html.H2(_w(lang, "hotline")), _table(lang, "hotline", hotlines, tz, now, writable)],
                     className="admin-panel", id="admin-feeds-hotline"),
        html.Section([html.H2(_w(lang, "open311")), _table(lang, "open311", clients, tz, now, writable),
                      html.P(_w(lang, "refused_all", count=open311_refused), className="admin-muted"), new_client],
                     className="admin-panel", id="admin-feeds-open311"),
        html.Section([html.H2(_w(lang, "letters")), _letters(lang, dead_letters, tz)], className="admin-panel"),
    ], className="admin-feeds")
