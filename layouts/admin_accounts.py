"""账号管理 (/admin/accounts): the real-name accounts (name, 警号, unit, role, active, last login,
the phone masked), and for an admin: create one, edit it, reset its password, end its sessions and
tokens, deactivate or reactivate it. A password is generated and shown once."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from dash import html

from layouts.admin_forms import action, field, form, select, text_input
from layouts.i18n import N_, gettext, labels

TEXT = {
    "new": N_("New account"), "username": N_("Username"), "real_name": N_("Real name"),
    "police_number": N_("Police number"), "unit": N_("Unit"), "role": N_("Role"), "phone": N_("Mobile phone"),
    "create": N_("Create"), "state": N_("State"), "last_login": N_("Last login"), "open": N_("Open"),
    "actions": N_("Actions"), "active": N_("Active"), "inactive": N_("Deactivated"), "never": N_("Never"),
    "manage": N_("Manage"), "save": N_("Save"), "reset": N_("Reset password"),
    "end": N_("End sessions and tokens"), "deactivate": N_("Deactivate"), "reactivate": N_("Reactivate"),
    "open_value": N_("%(sessions)s sessions · %(tokens)s tokens"),
    "phone_keep": N_("empty: unchanged"), "accounts": N_("All accounts"),
    "confirm_deactivate": N_("Deactivate %(username)s? Their open pages are logged out and their tokens revoked."),
    "confirm_reset": N_("Reset the password of %(username)s? Their open pages are logged out."),
    "confirm_end": N_("End every login session and revoke every token of %(username)s?"),
    "first_password": N_("The first password is generated and shown once after creating."),
    "summary": N_("%(active)s active accounts (%(admins)s admins), %(inactive)s deactivated"),
}
URL = "/api/v1/admin/accounts/users"


def summary(lang: str, active: int = 0, admins: int = 0, inactive: int = 0, **_: Any) -> str:
    return gettext(TEXT["summary"], lang, active=active, admins=admins, inactive=inactive)


def _words(lang: str, key: str, **params: Any) -> str:
    return gettext(TEXT[key], lang, **params)


def _fields(lang: str, units: Sequence[Mapping[str, str]], user: Mapping[str, Any] | None = None) -> list[Any]:
    roles = labels(lang)["roles"]
    unit_options = [(u["code"], f"{u['name']} ({u['code']})") for u in units]
    if user is not None and user["unit_code"] not in {u["code"] for u in units}:  # a deactivated unit
        unit_options.insert(0, (user["unit_code"], f"{user['unit_name']} ({user['unit_code']})"))
    u = user or {}
    return [
        field(_words(lang, "real_name"), text_input("real_name", u.get("real_name", ""), required=True, maxlength=64)),
        field(_words(lang, "police_number"), text_input("police_number", u.get("police_number", ""), maxlength=6,
                                                        pattern=r"\d{6}")),
        field(_words(lang, "unit"), select("unit", unit_options, u.get("unit_code"))),
        field(_words(lang, "role"), select("role", list(roles.items()), u.get("role", "handler"))),
        field(_words(lang, "phone"), text_input("phone", "", kind="tel", maxlength=32,
                                                placeholder=(f"{u['phone_masked']} · {_words(lang, 'phone_keep')}"
                                                             if u.get("phone_masked") else ""))),
    ]


def _create(lang: str, units: Sequence[Mapping[str, str]]) -> html.Section:
    return html.Section([
        html.H2(_words(lang, "new")),
        form(URL, [field(_words(lang, "username"), text_input("username", required=True, maxlength=64,
                                                              pattern=r"[A-Za-z0-9_.\-]{2,64}")),
                   *_fields(lang, units)], _words(lang, "create"), className="admin-create"),
        html.P(_words(lang, "first_password"), className="admin-muted"),
    ], className="admin-panel", id="admin-accounts-new")


def _manage(lang: str, user: Mapping[str, Any], units: Sequence[Mapping[str, str]]) -> html.Details:
    name = user["username"]
    base = f"{URL}/{quote(name, safe='')}"
    buttons = [action(f"{base}/password", _words(lang, "reset"), confirm=_words(lang, "confirm_reset", username=name),
                      className="admin-reset"),
               action(f"{base}/end-access", _words(lang, "end"), confirm=_words(lang, "confirm_end", username=name),
                      className="admin-end")]
    if user["active"]:
        buttons.append(action(f"{base}/deactivate", _words(lang, "deactivate"), className="admin-action-danger "
                              "admin-deactivate", confirm=_words(lang, "confirm_deactivate", username=name)))
    else:
        buttons = [action(f"{base}/reactivate", _words(lang, "reactivate"), className="admin-reactivate")]
    return html.Details([
        html.Summary(_words(lang, "manage"), className="step"),
        form(f"{base}/edit", _fields(lang, units, user), _words(lang, "save"), className="admin-edit"),
        html.Div(buttons, className="admin-actions"),
    ], className="admin-manage")


def _local(at: datetime | None, tz: ZoneInfo, lang: str) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if at is not None else _words(lang, "never")


def layout(lang: str = "zh-CN", *, users: Sequence[Mapping[str, Any]] = (), units: Sequence[Mapping[str, str]] = (),
           timezone: str = "Asia/Shanghai", writable: bool = False, **_: Any) -> html.Div:
    tz = ZoneInfo(timezone)
    roles = labels(lang)["roles"]
    head = [_words(lang, k) for k in ("username", "real_name", "police_number", "unit", "role", "state", "last_login",
                                      "phone", "open")] + ([_words(lang, "actions")] if writable else [])
    rows = []
    for u in users:
        state = html.Span(_words(lang, "active" if u["active"] else "inactive"),
                          className="admin-good" if u["active"] else "admin-bad")
        cells: list[Any] = [u["username"], u["real_name"], u["police_number"], u["unit_name"],
                            roles.get(u["role"], u["role"]), state, _local(u.get("last_login"), tz, lang),
                            u["phone_masked"], _words(lang, "open_value", sessions=u["sessions"], tokens=u["tokens"])]
        if writable:
            cells.append(_manage(lang, u, units))
        rows.append(html.Tr([html.Td(c) for c in cells], id=f"admin-user-{u['username']}",
                            className="admin-user" + ("" if u["active"] else " admin-muted")))
    return html.Div([
        _create(lang, units) if writable else None,
        html.Section([html.H2(_words(lang, "accounts")),
                      html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)],
                                 className="admin-table", id="admin-accounts-table")], className="admin-panel"),
    ], className="admin-accounts")
