"""The shape of the screens: pure layouts, callbacks that import layouts and
read models only, each module importing first without meeting a half-made one
(no import cycle crosses them and the platform: tests/unit/test_architecture.py),
scripts that copy no server rule, and one complete catalogue of screen and
message text."""
from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.checkers import python_format
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from layouts import i18n
from tests.helpers import ROOT
# Database code and Flask request/app state: never in a layout.
LAYOUT_FORBIDDEN = ("sqlalchemy", "tickets.db", "tickets.models", "flask", "flask_babel", "werkzeug",
                    "dashboard", "callbacks")
SKIP_DIRS = {".venv", "tests", "bench", "docs", "migrations", "build", "data", ".git"}


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every module ``path`` imports, at any depth (functions and TYPE_CHECKING blocks too)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:  # from dashboard import auth: the module dashboard.auth
                yield node.lineno, f"{node.module}.{alias.name}"


def under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def offences(package: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    return [f"{path.relative_to(ROOT)}:{line} imports {name}" for path in modules(package)
            for line, name in imports(path) if under(name, forbidden) and not under(name, allowed)]


# ------------------------------------------------------------------ the shape
def test_layouts_import_no_database_flask_or_platform_code() -> None:
    assert offences("layouts", LAYOUT_FORBIDDEN) == []


def test_layouts_stay_pure_through_what_they_import() -> None:
    # What the layouts import, and what that imports, loads none of it either (Dash itself
    # loads pieces of werkzeug, Flask's toolkit, but not Flask).
    names = sorted(p.stem for p in modules("layouts") if p.stem != "__init__")
    code = ("import sys\n" + "".join(f"import layouts.{n}\n" for n in names)
            + "print('\\n'.join(sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    forbidden = tuple(p for p in LAYOUT_FORBIDDEN if p != "werkzeug")
    assert [m for m in loaded.stdout.split() if under(m, forbidden)] == []


def test_callbacks_import_layouts_and_read_models_not_the_platform() -> None:
    assert offences("callbacks", ("dashboard", "flask"), allowed=("dashboard.read_models",)) == []


def test_read_models_import_neither_screens_nor_requests() -> None:
    found = offences("dashboard/read_models", ("flask", "callbacks", "dashboard"), allowed=("dashboard.read_models",))
    assert found == []


@pytest.mark.parametrize("module", ["callbacks.wall", "callbacks.map", "callbacks.router", "dashboard.read_models.map",
                                    "dashboard.screens", "dashboard.auth", "layouts.wall",
                                    "layouts.wall_screens", "dashboard.live.branch"])
def test_each_module_imports_first_without_a_cycle(module: str) -> None:
    """Imported first in a fresh interpreter, nothing meets a half-initialised module."""
    subprocess.run([sys.executable, "-W", "error::ImportWarning", "-c", f"import {module}"], cwd=ROOT, check=True)


def test_the_registry_is_the_gate_and_the_router() -> None:
    from callbacks.screen import Screen
    from dashboard.screens import SCREENS

    wall = SCREENS.find("/wall/")
    assert isinstance(wall, Screen) and wall.kiosk and wall.layout.__module__ == "layouts.wall_screens"
    assert SCREENS.find("/wall/map") is None and SCREENS.covering("/wall/map") is wall
    assert all(s.layout.__module__.startswith("layouts.") for s in SCREENS)
    assert all(s.callbacks is None or s.callbacks.__name__.startswith("callbacks.") for s in SCREENS)
    assert len({s.path for s in SCREENS}) == len(SCREENS.screens)


def test_scripts_copy_no_server_rule() -> None:
    """Words, the time zone and rates come from the server (the live marker, the snapshot, map options)."""
    scripts = [*sorted((ROOT / "dashboard" / "assets").glob("*.js")), ROOT / "dashboard/static/map/minsheng-map.js"]
    for script in scripts:
        text = re.sub(r"/\*.*?\*/|//[^\n]*", "", script.read_text(encoding="utf-8"), flags=re.S)
        assert not re.search(r"[\u4e00-\u9fff]", text), f"{script.name}: Chinese text in a script"
        assert "Asia/" not in text and not re.search(r"\b0\.(85|95)\b", text), f"{script.name} copies a rule"


def test_the_wall_hands_its_script_its_words_and_rules() -> None:
    from layouts import wall

    page = wall.layout("en", map_document="<html></html>", timezone="Asia/Urumqi", min_tickets=10)
    marker = next(c for c in page.children if getattr(c, "id", None) == "live-screen")
    config = json.loads(getattr(marker, "data-config"))
    assert config["timezone"] == "Asia/Urumqi" and config["lang"] == "en"
    assert config["text"]["live"] == "Live" and config["bands"]["floors"][0] == [0.95, "band-good"]
    zh_page = wall.layout("zh-CN", map_document="", timezone="Asia/Shanghai", min_tickets=10)
    zh = json.loads(getattr(next(c for c in zh_page.children if getattr(c, "id", None) == "live-screen"), "data-config"))
    assert zh["text"]["live"] == "实时连接"
    assert i18n.gettext(zh["text"]["warnings"]["calendar_year_unknown"], "zh-CN", year=2027).startswith("2027")


def test_a_wall_url_names_its_screens_and_their_pace() -> None:
    from layouts import wall_screens

    assert wall_screens.playlist({}) == (["overview"], wall_screens.DEFAULT_EVERY)
    assert wall_screens.playlist({"screen": "rankings"}) == (["rankings"], wall_screens.DEFAULT_EVERY)
    assert wall_screens.playlist({"playlist": "map, nope,duty", "every": "2"}) == (["map", "duty"], wall_screens.MIN_EVERY)
    assert wall_screens.playlist({"playlist": "nope", "every": "x"}) == (["overview"], wall_screens.DEFAULT_EVERY)
    page = wall_screens.layout("zh-CN", map_document="", timezone="Asia/Shanghai", playlist="map,rankings", every="20",
                               unit="JN-LX", unit_name="历下分局")
    assert page.className == "wall wall-screen-map"
    marker = next(c for c in page.children if getattr(c, "id", None) == "live-screen")
    config = json.loads(getattr(marker, "data-config"))
    assert config["screens"] == ["map", "rankings"] and config["every"] == 20 and config["unit"] == "JN-LX"
    assert config["map"] is None  # a branch wall's map follows no city-wide stream
    assert config["screen_text"]["breach"] == "已超期"


def test_the_calendar_warning_tells_an_admin_what_to_do_in_the_consoles_language() -> None:
    from layouts import duty

    def notice(lang: str, calendar: Any) -> str | None:
        found = [c for c in duty.layout(lang, calendar=calendar).children if getattr(c, "id", None) == "duty-calendar"]
        return " ".join(p.children for p in found[0].children) if found else None

    warning = {"code": "calendar_year_unknown", "year": 2027, "started": False}
    zh = notice("zh-CN", [warning])
    assert zh is not None and zh.startswith("2027年官方节假日安排") and "python app.py calendar load" in zh
    assert not re.search(r"[A-Za-z]{4,}", zh.replace("python app.py calendar load", "").replace(
        "examples/calendar_2027.yaml", "").replace("/admin/calendar", "")), zh  # Chinese, but for the command, file, page
    assert "python app.py calendar load FILE" in (notice("en", [warning]) or "")
    assert notice("zh-CN", []) == "" and notice("zh-CN", None) is None  # not an admin: no notice at all
    words = json.loads(getattr(next(c for c in duty.layout("zh-CN").children if getattr(c, "id", None) == "live-screen"),
                               "data-config"))["text"]["calendar_warnings"]
    assert i18n.gettext(words["calendar_year_unknown"], "zh-CN", year=2099).startswith("2099年")


# ------------------------------------------------------------------ the catalogue
def zh_catalogue() -> list[tuple[str, str, bool]]:
    """(msgid, msgstr, fuzzy) of every entry (the screens use no plural forms)."""
    with i18n.catalogue_path("zh-CN").open("rb") as po:
        catalog = read_po(po)
    return [(str(m.id), str(m.string or ""), m.fuzzy) for m in catalog if m.id]


def used_in_code() -> dict[str, str]:
    """Every literal message of a gettext(…) or N_(…) call in the platform's code → where."""
    found: dict[str, str] = {}
    for path in sorted(ROOT.rglob("*.py")):
        if SKIP_DIRS & set(path.relative_to(ROOT).parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("gettext", "N_")
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                found.setdefault(node.args[0].value, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def extracted() -> set[str]:
    """What ``make catalogue`` extracts (babel.cfg)."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    return {message for _file, _line, message, _comments, _context in
            extract_from_dir(str(ROOT), method_map, options_map) if isinstance(message, str)}


def test_every_zh_cn_entry_is_translated_and_none_is_fuzzy() -> None:
    entries = zh_catalogue()
    assert entries, "the catalogue is empty"
    assert [m for m, text, _f in entries if not text.strip()] == [], "untranslated"
    assert [m for m, _t, fuzzy in entries if fuzzy] == [], "fuzzy (a guess): translate and clear the flag"


def test_translations_keep_the_messages_placeholders() -> None:
    with i18n.catalogue_path("zh-CN").open("rb") as po:
        catalog = read_po(po)
    problems = []
    for message in catalog:
        if message.id and message.python_format:
            try:
                python_format(catalog, message)
            except Exception as exc:  # TranslationError: names the placeholder
                problems.append(f"{message.id!r}: {exc}")
    assert problems == []


def test_every_message_in_the_code_is_in_the_catalogue() -> None:
    catalogue = {m for m, _t, _f in zh_catalogue()}
    missing = {m: where for m, where in used_in_code().items() if m not in catalogue}
    assert missing == {}, "run `make catalogue` and translate the new entries"


def test_make_catalogue_sees_every_message_and_the_catalogue_holds_no_stale_one() -> None:
    # A gettext("…") inside an f-string is invisible to Babel's extractor on Python 3.11:
    # `make catalogue` would drop its entry. Say the message outside the f-string.
    seen = extracted()
    assert {m: w for m, w in used_in_code().items() if m not in seen} == {}
    assert sorted(m for m, _t, _f in zh_catalogue() if m not in seen) == [], "stale: run `make catalogue`"


def test_gettext_chinese_by_default_english_as_written() -> None:
    assert i18n.gettext("Live", "zh-CN") == "实时连接" == i18n.gettext("Live", "")
    assert i18n.gettext("Live", "en") == "Live" == i18n.gettext("Live", "en-GB")
    assert i18n.gettext("%(year)s: official calendar not loaded; assuming Monday–Friday", "en", year=2027) == \
        "2027: official calendar not loaded; assuming Monday–Friday"
    assert i18n.warning_text({"code": "calendar_year_unknown", "year": 2027}, "zh-CN").startswith("2027年")


def test_flask_babel_answers_from_the_same_catalogue() -> None:
    from flask import Flask
    from flask_babel import gettext as flask_gettext

    from dashboard.i18n import init_app, request_lang

    app = Flask(__name__)
    init_app(app, "Asia/Shanghai")
    with app.test_request_context("/login"):
        assert request_lang() == "zh-CN" and flask_gettext("Sign in") == i18n.gettext("Sign in", "zh-CN") == "登录"
    with app.test_request_context("/login?lang=en"):
        assert request_lang() == "en" and flask_gettext("Sign in") == "Sign in"


def test_the_duty_inbox_draws_its_alerts_evidence_offline() -> None:
    """The early warnings' small map: nothing without alerts; with one, its marker and the
    tickets behind it, and no address outside the platform."""
    from layouts.duty import alerts_map

    assert alerts_map([], [], "zh-CN") is None
    alert = {"id": 7, "kind": "recurring", "topic": "noise", "topic_label": "噪音扰民", "count": 5, "lat": 36.66,
             "lon": 117.02, "status": "open", "area_name": "泺口派出所辖区", "reason": "重复诉求 5 起",
             "acknowledged_at": None}
    frame = alerts_map([alert], [(36.661, 117.021, 1.0), (36.662, 117.022, 1.0)], "zh-CN")
    assert frame is not None
    html_text = frame.srcDoc
    # The alert goes to the map script as JSON (non-ASCII escaped), the tickets as heat points.
    assert '"id": 7, "kind": "recurring"' in html_text and "\\u6cfa\\u53e3" in html_text and "36.661" in html_text
    assert "https://" not in html_text and "http://" not in html_text.replace("http://www.w3.org", "")
