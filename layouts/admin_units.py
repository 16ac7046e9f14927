"""单位与辖区 (/admin/units): the three-level unit tree (市局 → 分局/支队 → 派出所/大队) with each
unit's code, level, state and open tickets; a unit picked in the tree (``?unit=CODE``) can be
renamed, given its topics, moved under another parent of the level above, and deactivated once
its open tickets are re-homed (listed first, as a preview); new units are added under a parent;
and which unit takes which topic. Supervisors read it all without the forms."""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc, html

from layouts import admin_forms as shell
from layouts.i18n import N_, gettext, labels

API = "/api/v1/admin/units"
TEXT = {
    "tree": N_("Unit tree"), "code": N_("Code"), "name": N_("Unit name"), "level": N_("Level"), "kind": N_("Kind"),
    "state": N_("State"), "open": N_("Open tickets"), "topics": N_("Topics taken"),
    "active": N_("Active"), "inactive": N_("Deactivated"),
    "pick": N_("Pick a unit in the tree to rename, move or deactivate it"),
    "selected": N_("Unit %(code)s · %(name)s"),
    "rename": N_("Rename"), "new_name": N_("New name"), "name_en": N_("English name"),
    "move": N_("Move"), "move_to": N_("Under"), "move_hint": N_("The unit moves with every unit below it: the people of "
                                                               "its new branch see its tickets at once, its old branch no longer."),
    "move_confirm": N_("Move this unit and everything below it?"),
    "topics_form": N_("Save"), "takes": N_("This unit"), "take_yes": N_("takes it"),
    "take_no": N_("does not take it"), "topics_hint": N_("Tickets of a topic this unit takes come to it before any rule of place."),
    "rehome": N_("Re-home its open tickets"), "rehome_to": N_("To unit"), "rehome_note": N_("Note on each timeline"),
    "rehome_confirm": N_("Move every open ticket of this unit to the chosen unit?"),
    "rehome_none": N_("It holds no open tickets."),
    "preview": N_("Open tickets it holds (%(count)s): they must go to another unit before it can be deactivated"),
    "number": N_("Ticket"), "status": N_("Status"), "topic": N_("Topic"), "due": N_("Resolve by"),
    "deactivate": N_("Deactivate"), "deactivate_confirm": N_("Deactivate this unit? It takes no new tickets."),
    "deactivate_blocked": N_("Deactivation is possible once it holds no open tickets and no active unit is below it."),
    "add": N_("Add a unit"), "parent": N_("Parent"), "add_submit": N_("Add"),
    "owners": N_("Topic owners"), "owner_units": N_("Units that take it"),
    "by_place": N_("By place (the station of the incident's jurisdiction)"),
    "summary": N_("%(units)s units, %(inactive)s deactivated"),
    "geo": N_("Jurisdictions: check a GeoJSON file"),
    "geo_hint": N_("One polygon per station with its unit_code, as `python app.py geo check` reads it. The check "
                   "lists invalid geometry, overlaps, gaps, unknown codes and stations without a polygon. Nothing "
                   "changes until a file without errors is applied; then new tickets are routed by it."),
    "geo_upload": N_("Check a file"),
    "geo_in_use": N_("Routing uses: %(name)s, applied %(at)s UTC"), "geo_configured": N_("Routing uses the configured files"),
}
# Words of the check's report (assets/admin_units.js writes it).
GEO_TEXT = {
    "checked": N_("%(features)s features, %(units)s stations, %(area)s km²: %(errors)s errors, %(warnings)s warnings"),
    "ok": N_("No errors: the file can be used"), "not_ok": N_("Errors: fix the file and check it again"),
    "kind": N_("Problem"), "severity": N_("Severity"), "what": N_("Details"), "area": N_("Area (km²)"),
    "where": N_("At (lat, lon)"), "error": N_("Error"), "warning": N_("Warning"),
    "failed": N_("Not done: %(message)s"),
    "apply": N_("Apply: route by this file from now on"), "discard": N_("Discard"),
    "apply_done": N_("Applied: new tickets are routed by this file"), "discard_done": N_("Discarded"),
    "unreadable": N_("Unreadable"), "missing_code": N_("No unit code"), "not_polygon": N_("Not a polygon"),
    "invalid_geometry": N_("Invalid geometry"), "duplicate_code": N_("Duplicate code"),
    "unknown_code": N_("Unknown code"), "no_polygon": N_("Station without a polygon"), "overlap": N_("Overlap"),
    "gap": N_("Gap"), "outside_districts": N_("Outside the districts"),
}
LEVELS = {1: N_("City bureau"), 2: N_("Branch / division"), 3: N_("Station / team")}
KINDS = {
    "bureau": N_("City bureau"), "platform_office": N_("Platform office"), "branch": N_("Branch bureau"),
    "county_bureau": N_("County bureau"), "division": N_("Division"), "station": N_("Police station"),
    "team": N_("Brigade"), "section": N_("Section"),
}
# Which kinds a new unit of each level may be (as tickets.units.LEVEL_KINDS).
LEVEL_KINDS = {2: ("branch", "county_bureau", "division", "platform_office"), 3: ("station", "team", "section")}


def summary(lang: str, units: int = 0, inactive: int = 0, **_: Any) -> str:
    return gettext(TEXT["summary"], lang, units=units, inactive=inactive)


def _t(key: str, lang: str, **params: Any) -> str:
    return gettext(TEXT[key], lang, **params)


def _unit_label(u: Mapping[str, Any]) -> str:
    return f"{u['code']} {u['name']}"


def _tree(units: Sequence[Mapping[str, Any]], selected: str | None, lang: str) -> html.Table:
    topic_words = labels(lang)["topics"]
    head = [_t(k, lang) for k in ("code", "name", "level", "kind", "state", "open", "topics")]
    rows = []
    for u in units:
        rows.append(html.Tr([
            html.Td(html.A(u["code"], href=f"/admin/units?lang={lang}&unit={u['code']}", id=f"admin-unit-{u['code']}")),
            html.Td(u["name"], className=f"admin-unit-name admin-unit-level-{u['level']}"),
            html.Td(gettext(LEVELS.get(u["level"], ""), lang) if u["level"] in LEVELS else u["level"]),
            html.Td(gettext(KINDS[u["kind"]], lang) if u["kind"] in KINDS else u["kind"]),
            html.Td(_t("active", lang) if u["active"] else _t("inactive", lang),
                    className="admin-good" if u["active"] else "admin-muted"),
            html.Td(u["open"], className="admin-unit-open"),
            html.Td("、".join(topic_words.get(t, t) for t in u["topics"]), className="admin-muted"),
        ], className="admin-unit-row admin-unit-selected" if u["code"] == selected else "admin-unit-row",
            **{"data-unit": u["code"], "data-parent": u["parent"] or ""}))
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)],
                      className="admin-table admin-unit-tree", id="admin-units-tree")


def _selected(unit: Mapping[str, Any], units: Sequence[Mapping[str, Any]], held: Sequence[Mapping[str, Any]],
              writable: bool, lang: str) -> html.Div:
    words = labels(lang)
    code = unit["code"]
    parts: list[Any] = [html.H2(_t("selected", lang, code=code, name=unit["name"]))]
    parents = [(u["code"], _unit_label(u)) for u in units
               if u["active"] and u["level"] == unit["level"] - 1 and u["code"] != unit["parent"]]
    # Where its tickets may go: its sibling units first (the same branch's other stations), then the rest.
    targets = [(u["code"], _unit_label(u)) for u in sorted(units, key=lambda u: u["parent"] != unit["parent"])
               if u["active"] and u["code"] != code and u["level"] >= 2]
    if writable:
        parts.append(shell.form(f"{API}/rename", [
            dcc.Input(type="hidden", name="unit", value=code),
            shell.field(_t("new_name", lang), shell.text_input("name", unit["name"], required=True, maxlength=64)),
            shell.field(_t("name_en", lang), shell.text_input("name_en", unit.get("name_en") or "", maxlength=128)),
        ], _t("rename", lang), className="admin-unit-rename"))
        if unit["level"] > 1 and parents:
            parts.append(shell.form(f"{API}/move", [
                dcc.Input(type="hidden", name="unit", value=code),
                shell.field(_t("move_to", lang), shell.select("parent", parents)),
            ], _t("move", lang), confirm=_t("move_confirm", lang), className="admin-unit-move"))
            parts.append(html.P(_t("move_hint", lang), className="admin-muted"))
        if unit["level"] > 1:
            parts.append(shell.form(f"{API}/topics", [
                dcc.Input(type="hidden", name="unit", value=code),
                shell.field(_t("topic", lang), shell.select("topic", list(words["topics"].items()))),
                shell.field(_t("takes", lang), shell.select("take", [("yes", _t("take_yes", lang)), ("no", _t("take_no", lang))])),
            ], _t("topics_form", lang), className="admin-unit-topics"))
            parts.append(html.P(_t("topics_hint", lang), className="admin-muted"))
    if held:
        parts.append(html.H3(_t("preview", lang, count=len(held))))
        parts.append(shell.table([_t(k, lang) for k in ("number", "status", "topic", "due")],
                           [[html.A(t["number"], href=f"/ticket/{t['number']}?lang={lang}"),
                             words["statuses"].get(t["status"], t["status"]),
                             words["topics"].get(t["topic"], t["topic"]), (t["resolve_due_at"] or "")[:16].replace("T", " ")]
                            for t in held], className="admin-unit-held"))
        if writable:
            parts.append(shell.form(f"{API}/rehome", [
                dcc.Input(type="hidden", name="unit", value=code),
                shell.field(_t("rehome_to", lang), shell.select("to", targets)),
                shell.field(_t("rehome_note", lang), shell.text_input("note", maxlength=200)),
            ], _t("rehome", lang), confirm=_t("rehome_confirm", lang), className="admin-unit-rehome"))
    elif unit["level"] > 1:
        parts.append(html.P(_t("rehome_none", lang), className="admin-muted"))
    if writable and unit["active"] and unit["level"] > 1:
        parts.append(html.Div([
            shell.action(f"{API}/deactivate", _t("deactivate", lang), body={"unit": code},
                   confirm=_t("deactivate_confirm", lang), className="admin-action-danger"),
            html.Span(_t("deactivate_blocked", lang), className="admin-muted")], className="admin-actions"))
    return html.Div(parts, className="admin-panel admin-unit-panel", id="admin-unit-selected")


def _add(units: Sequence[Mapping[str, Any]], lang: str) -> html.Div:
    parents = [(u["code"], _unit_label(u)) for u in units if u["active"] and u["level"] < 3]
    kinds = [(k, gettext(KINDS[k], lang)) for level in (2, 3) for k in LEVEL_KINDS[level]]
    return html.Div([html.H2(_t("add", lang)), shell.form(f"{API}/add", [
        shell.field(_t("parent", lang), shell.select("parent", parents)),
        shell.field(_t("code", lang), shell.text_input("code", required=True, maxlength=32, placeholder="JN-LX-09")),
        shell.field(_t("name", lang), shell.text_input("name", required=True, maxlength=64)),
        shell.field(_t("kind", lang), shell.select("kind", kinds, "station")),
    ], _t("add_submit", lang), className="admin-unit-add")], className="admin-panel")


def _data(config: Mapping[str, Any]) -> dict[str, Any]:
    return {"data-config": json.dumps(config, ensure_ascii=False)}


def _jurisdictions(uploads: Sequence[Mapping[str, Any]], lang: str) -> html.Div:
    config = {"lang": lang, "text": {k: gettext(v, lang) for k, v in GEO_TEXT.items()}}
    applied = next((u for u in uploads if u["status"] == "applied"), None)
    in_use = _t("geo_in_use", lang, name=applied["name"], at=(applied["decided_at"] or "")[:16].replace("T", " ")) \
        if applied else _t("geo_configured", lang)
    return html.Div([
        html.H2(_t("geo", lang)), html.P(_t("geo_hint", lang), className="admin-muted"),
        html.P(in_use, id="admin-units-geo-in-use"),
        dcc.Upload(html.Button(_t("geo_upload", lang), type="button", className="step"), id="admin-units-geojson",
                   accept=".geojson,.json,application/geo+json,application/json"),
        html.Div(id="admin-units-geo-report", className="admin-geo-report", **_data(config)),
    ], className="admin-panel")


def _owners(topics: Sequence[Mapping[str, Any]], units: Sequence[Mapping[str, Any]], lang: str) -> html.Div:
    names = {u["code"]: u["name"] for u in units}
    words = labels(lang)["topics"]
    rows = [[words.get(t["topic"], t["topic"]),
             "、".join(names.get(c, c) for c in t["owners"]) or html.Span(_t("by_place", lang), className="admin-muted")]
            for t in topics]
    return html.Div([html.H2(_t("owners", lang)), shell.table([_t("topic", lang), _t("owner_units", lang)], rows,
                                                        className="admin-unit-owners")],
                    className="admin-panel", id="admin-units-owners")


def layout(lang: str = "zh-CN", *, writable: bool = False, units: Sequence[Mapping[str, Any]] = (),
           topics: Sequence[Mapping[str, Any]] = (), selected: str | None = None,
           held: Sequence[Mapping[str, Any]] = (), uploads: Sequence[Mapping[str, Any]] = (), **_: Any) -> html.Div:
    unit = next((u for u in units if u["code"] == selected), None)
    side = [_selected(unit, units, held, writable, lang) if unit is not None else
            html.Div(html.P(_t("pick", lang), className="admin-muted"), className="admin-panel")]
    if writable:
        side.append(_add(units, lang))
    side.append(_owners(topics, units, lang))
    return html.Div([
        html.Div([html.Div([html.H2(_t("tree", lang)), _tree(units, selected, lang)],
                           className="admin-panel admin-units-main"),
                  _jurisdictions(uploads, lang) if writable else None]),
        html.Div(side, className="admin-units-side"),
    ], className="admin-units-grid")
