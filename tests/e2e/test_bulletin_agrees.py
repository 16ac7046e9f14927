"""每周通报: every number the same four ways, and the same as SQL and the live figures.

On two worlds, both on PostgreSQL:

- **month**: the Jinan bureau and a simulated month of tickets taking every path
  (conftest's ``bulletin_world``), the bulletin of its third week made the Monday after
  at 07:00;
- **boston**: the Boston bureau and the 2,000-row Boston 311 sample imported
  (America/New_York), the bulletin of its busiest 2015 week made the Monday after.

For the bureau and every ranked group's every unit, the expected numbers are computed
here from scratch: plain COUNT queries from the definitions of docs/FIGURES.md
(``reference``), the rates, the composite and the ranks from their written rules, the
Wilson bounds from their formula. Then each must read the same

1. in the JSON (``GET /api/v1/bulletins/{week}``),
2. in the live figures (``GET /api/v1/figures`` over the same dates, at the same moment),
3. in the PDF's text (each unit's row, as printed),
4. in the XLSX cells (numbers, to the last bit),
5. on the screen (``/bulletin?week=…`` in Chromium: the bureau's cards and every row of
   every ranking grid, as painted).
"""
from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

import settings as settings_module
from dashboard import create_platform
from dashboard.documents import bulletin as bulletin_pdf
from feeds.importer import run_import
from tests.helpers import BOSTON_MAPPING, BOSTON_SAMPLE, EXAMPLES, MADE_AT, WEEK, ApiWorld, wait_until
from tests.integration.test_bulletin import expected_rates, reference
from tests.integration.test_bulletin_documents import pages
from tests.servers import PlatformProcess, PostgresServer
from tickets import accounts, bulletin, services
from tickets.roles import SYSTEM
from tickets.schema import upgrade
from tickets.units import load_bureau
from tickets.uow import unit_of_work

Z = 1.959963984540054  # the 97.5% point of the standard normal
NEW_YORK = ZoneInfo("America/New_York")
SCREEN_RATES = ("response_rate", "completion_rate", "on_time_rate", "satisfaction_rate", "acceptance_rate",
                "return_rate", "redo_rate")
PDF_RATES = ("response_rate", "on_time_rate", "satisfaction_rate", "acceptance_rate", "return_rate", "redo_rate")
NUMERATORS = {"response_rate": ("responded_on_time", "response_due"), "completion_rate": ("closed", "due"),
              "on_time_rate": ("closed_on_time", "due"),
              "satisfaction_rate": ("follow_ups_satisfied", "follow_ups_answered"),
              "acceptance_rate": ("accepted_on_time", "accept_due"), "return_rate": ("returned", "dispatched"),
              "redo_rate": ("redone", "replied")}


@dataclass
class Week:
    """A world with a frozen bulletin: where it lives, which week, as of when, in which zone."""

    world: ApiWorld
    url: str
    week: str
    now: datetime
    tz: ZoneInfo
    env: dict[str, str]


# ------------------------------------------------------------ the worlds
@pytest.fixture(params=["month", "boston"])
def frozen_week(request: pytest.FixtureRequest, postgres_server: PostgresServer, tmp_path: Any) -> Iterator[Week]:
    if request.param == "month":
        world = request.getfixturevalue("bulletin_world")
        with unit_of_work(world.platform.factory) as s:
            services.make_bulletin(s, SYSTEM, WEEK, now=MADE_AT)
        yield Week(world, str(world.platform.settings.database_url), WEEK, MADE_AT, MADE_AT.tzinfo, {})
        return
    name = f"boston_{uuid.uuid4().hex[:16]}"
    url = postgres_server.create_database(name)
    try:
        upgrade(url)
        cfg = settings_module.load(environ={}, database_url=url, demo_accounts_file="none",
                                   timezone="America/New_York")
        platform = create_platform(cfg, live=False)
        with unit_of_work(platform.factory) as s:
            load_bureau(s, EXAMPLES / "boston_bureau.yaml")
            chief = accounts.create_user(s, "chief", "测试民警", None, "BOS", "leader", "api-tests-2026")
            token = accounts.issue_token(s, "api", chief)
        run_import(platform.factory, BOSTON_SAMPLE, BOSTON_MAPPING, cfg.tz, batch=1000)
        with platform.factory() as s:  # the busiest week of the sample
            received = [r[0] for r in s.execute(text("SELECT received_at FROM tickets"))]
        week, _ = Counter(bulletin.week_of(r.astimezone(NEW_YORK).date()) for r in received).most_common(1)[0]
        now = datetime.combine(bulletin.parse_week(week) + timedelta(days=7), datetime.min.time(),
                               NEW_YORK).replace(hour=7)
        with unit_of_work(platform.factory) as s:
            services.make_bulletin(s, SYSTEM, week, now=now)
        yield Week(ApiWorld(platform, {"chief": token}), url, week, now, NEW_YORK,
                   {"MINSHENG_TIMEZONE": "America/New_York"})
    finally:
        postgres_server.drop_database(name)


# ------------------------------------------------------------ the expected numbers
def wilson(k: int, n: int) -> list[float] | None:
    """Wilson's interval as the textbook writes it (Wilson 1927), clamped to [0, 1]."""
    if n == 0:
        return None
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z / (1 + Z * Z / n) * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return [0.0 if k == 0 else centre - half, 1.0 if k == n else centre + half]


def expected_unit(ref: dict[str, int], rules: dict[str, Any]) -> dict[str, Any]:
    """A unit's rates, composite and intervals from its counts and the bulletin's stated rules."""
    rates = expected_rates(ref)
    weights = rules["weights"]
    measure = f"{rules['completion_measure']}_rate"
    parts = [(weights["response"], "response_rate"), (weights["completion"], measure),
             (weights["satisfaction"], "satisfaction_rate")]
    present = [(w, r) for w, r in parts if rates[r] is not None and w > 0]
    total = sum(w for w, _ in present)
    intervals = {r: wilson(ref[num], ref[den]) for r, (num, den) in NUMERATORS.items()}
    composite = sum(w * rates[r] for w, r in present) / total if present else None  # type: ignore[operator]
    interval = None if not present else [sum(w * intervals[r][i] for w, r in present) / total  # type: ignore[index]
                                         for i in (0, 1)]
    return {"received": ref["received"], **rates, "composite_score": composite, "composite_interval": interval,
            "intervals": intervals}


def ranked(rows: dict[str, dict[str, Any]], min_tickets: int) -> dict[str, int | None]:
    """Ranks by the written rule: enough tickets and a composite; best composite first, then the better
    on-time rate, the larger volume, the code."""
    able = [c for c, r in rows.items() if r["received"] >= min_tickets and r["composite_score"] is not None]
    able.sort(key=lambda c: (-rows[c]["composite_score"], -(rows[c]["on_time_rate"] or 0), -rows[c]["received"], c))
    return {c: (able.index(c) + 1 if c in able else None) for c in rows}


def pct(value: float | None) -> str:
    """A rate as the screen and the PDF print it, written out here: one decimal, rounded half up
    from the exact value (as JavaScript's toFixed does)."""
    if value is None:
        return "–"
    return f"{Decimal(value * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


# ------------------------------------------------------------ the screen
GRID_ROWS = """(id) => {
  const rows = {};
  document.getElementById(id).querySelectorAll('.ag-row').forEach(r => {
    const i = r.getAttribute('row-index');
    rows[i] = rows[i] || {};
    r.querySelectorAll('.ag-cell').forEach(c => { rows[i][c.getAttribute('col-id')] = c.innerText.trim(); });
  });
  return Object.keys(rows).sort((a, b) => a - b).map(k => rows[k]);
}"""


def screen_groups(browser: Any, frozen: Week, groups: dict[str, dict[str, Any]]) -> tuple[dict[str, str],
                                                                                          dict[str, list[dict]]]:
    """The bureau's cards and every ranking grid's rows, as painted in Chromium at 1920×1080."""
    platform = PlatformProcess(frozen.url, env=frozen.env).start(timeout=120)
    try:
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(f"{platform.base_url}/login?next=/bulletin?week={frozen.week}")
        page.fill("#username", "chief")
        page.fill("#password", "api-tests-2026")
        page.click("button[type=submit]")
        page.wait_for_selector(".bulletin-page")
        assert page.inner_text("#bulletin-week") == frozen.week
        cards = {key: page.inner_text(f"[data-figure='{key}']") for key in ("received", "composite_score",
                                                                             *SCREEN_RATES)}
        grids = {}
        for key in groups:
            grid = f"bulletin-grid-{key}"
            wait_until(lambda grid=grid: page.locator(f"#{grid} .ag-row").count() > 0, what=f"the grid {key}")
            grids[key] = page.evaluate(GRID_ROWS, grid)
        page.close()
        return cards, grids
    finally:
        platform.stop()


# ------------------------------------------------------------ the test
@pytest.mark.real_servers
def test_json_screen_pdf_and_xlsx_say_what_sql_and_the_live_figures_say(frozen_week: Week, browser: Any,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import dashboard.api.figures as api_figures

    frozen = frozen_week
    world, week, now = frozen.world, frozen.week, frozen.now
    content = world.get(f"/api/v1/bulletins/{week}", "chief").get_json()
    assert content["provisional"] is False and content["version"] == 1 and content["as_of"] == now.isoformat()
    rules = content["rules"]
    monday, sunday, start, end = bulletin.week_bounds(week, frozen.tz)

    # The expected numbers: SQL counts, then the written rules.
    groups: dict[str, dict[str, Any]] = {"branches": content["rankings"]["branches"],
                                         "divisions": content["rankings"]["divisions"],
                                         **{f"stations-{b}": g for b, g in content["rankings"]["stations"].items()}}
    groups = {k: g for k, g in groups.items() if g["units"]}
    with world.platform.factory() as s:
        bureau_ref = reference(s, start, end, now, None)
        refs = {r["unit"]: reference(s, start, end, now, r["unit"]) for g in groups.values() for r in g["units"]}
        names = dict(s.execute(text("SELECT code, name FROM units")).all())
    assert bureau_ref["received"] > 20
    bureau = expected_unit(bureau_ref, rules)
    units = {code: expected_unit(ref, rules) for code, ref in refs.items()}
    ranks: dict[str, int | None] = {}
    for group in groups.values():
        ranks.update(ranked({r["unit"]: units[r["unit"]] for r in group["units"]}, rules["min_tickets"]))
    assert any(r is not None for r in ranks.values())
    checked = 0

    def same(got: Any, want: Any, where: str) -> None:
        nonlocal checked
        checked += 1
        if isinstance(want, float):
            assert got == pytest.approx(want, abs=1e-12), where
        elif isinstance(want, list):
            assert got is not None and got == pytest.approx(want, abs=1e-12), where
        else:
            assert got == want, where

    # 1. The JSON.
    for key in ("received", "composite_score", "composite_interval", *NUMERATORS):
        same(content["bureau"][key], bureau[key], f"json bureau {key}")
    for rate, bounds in bureau["intervals"].items():
        same(content["bureau"]["intervals"][rate], bounds, f"json bureau interval {rate}")
    for key, group in groups.items():
        for row in group["units"]:
            code, want = row["unit"], units[row["unit"]]
            same(row["rank"], ranks[code], f"json {key} {code} rank")
            for field in ("received", "composite_score", "composite_interval", *SCREEN_RATES):
                same(row[field], want[field], f"json {key} {code} {field}")
            for rate, bounds in want["intervals"].items():
                same(content["units"][code]["intervals"][rate], bounds, f"json {code} interval {rate}")

    # 2. The live figures over the same dates, at the same moment.
    monkeypatch.setattr(api_figures, "utcnow", lambda: now)
    for code in (None, *refs):
        answer = world.get(f"/api/v1/figures?from={monday}&to={sunday}{'&unit=' + code if code else ''}",
                           "chief").get_json()
        want = bureau if code is None else units[code]
        for field in ("received", "composite_score", *SCREEN_RATES):
            same(answer[field], want[field], f"live {code} {field}")

    # 3. The PDF's text: each unit's row as printed, from the rank to the last rate.
    pdf = world.get(f"/api/v1/bulletins/{week}.pdf", "chief")
    assert pdf.status_code == 200
    _, texts = pages(pdf.data)
    printed = "".join(texts)
    for code, want in units.items():
        rank = ranks[code]
        interval = "—" if want["composite_interval"] is None else \
            f"{pct(want['composite_interval'][0])}–{pct(want['composite_interval'][1])}"
        row = " ".join([str(rank) if rank is not None else "—", names[code], str(want["received"]),
                        pct(want["composite_score"]).replace("–", "—"), interval,
                        *(pct(want[r]).replace("–", "—") for r in PDF_RATES)])
        assert row in printed, f"pdf {code}: {row}"
        checked += 1
    for key in ("received", "composite_score", *NUMERATORS):
        shown = str(bureau[key]) if key == "received" else pct(bureau[key]).replace("–", "—")
        assert shown in printed, f"pdf bureau {key}"
        checked += 1

    # 4. The spreadsheet's cells.
    book = load_workbook(BytesIO(world.get(f"/api/v1/bulletins/{week}.xlsx", "chief").data))
    w = bulletin_pdf.words()
    xlsx_rows: dict[str, dict[str, Any]] = {}
    for sheet in (w["t_branches"], w["t_divisions"], w["t_stations_sheet"]):
        if sheet not in book.sheetnames:
            continue
        header = [c.value for c in book[sheet][1]]
        for values in book[sheet].iter_rows(min_row=2, values_only=True):
            if values[header.index(w["c_unit"])]:
                xlsx_rows[values[header.index(w["c_unit"])]] = dict(zip(header, values))
    low, high = f"{w['c_interval']}·{w['c_low']}", f"{w['c_interval']}·{w['c_high']}"
    for code, want in units.items():
        got = xlsx_rows[names[code]]
        same(got[w["c_rank"]], ranks[code], f"xlsx {code} rank")
        same(got[w["c_received"]], want["received"], f"xlsx {code} received")
        same(got[w["c_score"]], want["composite_score"], f"xlsx {code} composite")
        same(None if got[low] is None else [got[low], got[high]], want["composite_interval"], f"xlsx {code} interval")
        for rate in PDF_RATES:
            same(got[w[rate]], want[rate], f"xlsx {code} {rate}")
    main = {r[0]: r for r in book["主要指标"].iter_rows(min_row=2, values_only=True) if r[0]}
    for key in ("received", "composite_score", *NUMERATORS):
        same(main[w[key]][1], bureau[key], f"xlsx bureau {key}")

    # 5. The screen, as painted.
    cards, grids = screen_groups(browser, frozen, groups)
    same(cards["received"], str(bureau["received"]), "screen bureau received")
    for key in ("composite_score", *SCREEN_RATES):
        same(cards[key], pct(bureau[key]), f"screen bureau {key}")
    for key, group in groups.items():
        painted = {r["unit_name"]: r for r in grids[key]}
        assert len(painted) == len(group["units"]), key
        for row in group["units"]:
            code, want = row["unit"], units[row["unit"]]
            got = painted[names[code]]
            same(got["rank"], "" if ranks[code] is None else str(ranks[code]), f"screen {code} rank")
            same(got["received"], str(want["received"]), f"screen {code} received")
            for field in ("composite_score", *SCREEN_RATES):
                same(got[field], pct(want[field]), f"screen {code} {field}")
    print(f"\n{week}: {len(units)} units, {checked} numbers the same in SQL, JSON, live, PDF, XLSX and on screen")
