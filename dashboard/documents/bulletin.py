"""每周通报 printable: the weekly bulletin's content (``tickets.bulletin``) as A4 PDF.

The content (a frozen snapshot, or the running week's provisional one) is turned
into :class:`Table` s once, by :func:`sections`; the PDF (``templates/bulletin.html``)
and the spreadsheet (``bulletin_xlsx``) both render those tables, so a figure reads
the same in both. Every word comes from the screen catalogue (:data:`WORDS`,
``layouts/i18n.py``), the domain's labels from ``tickets.vocabulary``.

Nothing personal: tickets appear by number, topic, unit and deadline; their titles
(which a citizen may have worded with their name) are not printed.

Two figures are drawn with matplotlib, offline, in the same CJK font as the text:
the bureau's five-week trend of the main rates, and the week's hotspot cells over
the district boundaries (``geo.districts``); both as 200-dpi PNG data: URIs.
"""
from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup

from dashboard import documents
from dashboard.documents import DocumentsUnavailable, html, write_pdf
from layouts.i18n import N_, labels, percent, texts
from dashboard.documents.order import STATUS as ORDER_STATUS
from tickets.bulletin import RATES
from tickets.followup import ANSWERS
from tickets.supervision import LETTER_REASONS, ORDER_REASONS

LANG = "zh-CN"
DPI = 200
# At most this many rows of each list of tickets (the exceptions, last week's outcome) are printed. A
# week of a big city's bulletin lists thousands (bench/bulletin.py: ~8,400 over 1,000,000 tickets),
# which WeasyPrint lays out at 4–9 ms a row: over a minute. A longer list is cut after this many rows (the
# chiefs read the first hundred; a week of 100 units and 300 exception rows still runs over pages with
# its headers repeated) and the
# page says so, with the list's total; the spreadsheet has every row (docs/PERFORMANCE.md).
PRINTED_ROWS = 100
# Pyplot is not used (its global state is not thread-safe); the Figure API and rc settings are.
_DRAW_LOCK = threading.Lock()

# Every word the bulletin prints (and the spreadsheet's sheet and column names).
WORDS: dict[str, str] = {
    "kind": N_("Weekly bulletin of people's livelihood policing"),
    "week_title": N_("Week %(number)s of %(year)s (%(first)s to %(last)s)"),
    "page": N_("%(week)s · page {page}"),
    "provisional": N_("Provisional: the running week, figures will change"),
    "provisional_mark": N_("Provisional"),
    "version": N_("Version %(version)s"),
    "as_of": N_("Figures as of %(at)s"),
    "scope": N_("Scope: %(units)s (the bureau's totals, topics and channels are for the whole city only)"),
    "issuer": N_("Minsheng policing platform (automatic)"),
    "rules": N_("Composite score: response %(response)s, %(completion)s %(completion_w)s, satisfaction "
                "%(satisfaction)s; units with fewer than %(min)s tickets are not ranked; intervals are 95%% "
                "Wilson intervals; 'tied' marks neighbours whose intervals overlap."),
    # sections
    "s_bureau": N_("1. The bureau's figures"),
    "s_trend": N_("Trend of the last five weeks"),
    "s_rankings": N_("2. Rankings"),
    "s_exceptions": N_("3. Exceptions"),
    "s_topics": N_("4. Topics and channels"),
    "s_hotspots": N_("5. Hotspots"),
    # tables
    "t_bureau": N_("Main figures"),
    "t_trend": N_("Weekly trend"),
    "t_branches": N_("Branches and county bureaus"),
    "t_divisions": N_("Divisions"),
    "t_stations": N_("Police stations of %(branch)s"),
    "t_stations_sheet": N_("Police stations"),
    "t_overdue": N_("Overdue and not closed"),
    "t_closed_late": N_("Closed late"),
    "t_unsatisfied": N_("Unsatisfied citizens"),
    "t_orders": N_("Supervision orders"),
    "t_letters": N_("Reminder letters"),
    "t_below": N_("Units below the satisfaction threshold (%(threshold)s), to rectify"),
    "t_below_sheet": N_("Below satisfaction threshold"),
    "t_last_week": N_("Last week's exceptions and their outcome"),
    "t_topics": N_("Topics"),
    "t_channels": N_("Channels"),
    "t_cells": N_("Busiest cells"),
    "t_alerts": N_("Early warnings of the week"),
    # columns
    "c_figure": N_("Figure"),
    "c_value": N_("This week"),
    "c_low": N_("Interval low"),
    "c_high": N_("Interval high"),
    "c_interval": N_("Interval at 95 per cent"),
    "c_parts": N_("Numerator / denominator"),
    "c_numerator": N_("Numerator"),
    "c_denominator": N_("Denominator"),
    "c_change": N_("Week on week"),
    "c_week": N_("Week"),
    "c_rank": N_("Rank"),
    "c_unit": N_("Unit"),
    "c_branch": N_("Branch"),
    "c_received": N_("Received"),
    "c_score": N_("Composite score"),
    "c_note": N_("Note"),
    "c_number": N_("Number"),
    "c_topic": N_("Topic"),
    "c_channel": N_("Channel"),
    "c_clock": N_("Deadline missed"),
    "c_due": N_("Deadline"),
    "c_closed": N_("Closed"),
    "c_hours_late": N_("Hours late"),
    "c_answered": N_("Answered"),
    "c_level": N_("Follow-up level"),
    "c_ticket": N_("Ticket"),
    "c_reason": N_("Reason"),
    "c_issued": N_("Issued"),
    "c_status": N_("Status"),
    "c_acknowledged": N_("Acknowledged"),
    "c_satisfied": N_("Follow-ups satisfied"),
    "c_answered_count": N_("Follow-ups answered"),
    "c_answer": N_("Follow-up answer"),
    "c_listed_for": N_("Listed for"),
    "c_outcome": N_("Outcome"),
    "c_count": N_("Count"),
    "c_previous": N_("Last week"),
    "c_share": N_("Share"),
    "c_cell": N_("Cell"),
    "c_trend": N_("Trend"),
    "c_topics": N_("Main topics"),
    "c_kind": N_("Kind"),
    "c_area": N_("Area"),
    "c_day": N_("Day"),
    "c_baseline": N_("Baseline"),
    # figures
    "received": N_("Tickets received"),
    "intake_records": N_("Intake records"),
    "duplicate_rate": N_("Duplicate rate"),
    "direct_dispatch_rate": N_("Direct dispatch rate"),
    "response_rate": N_("Response rate"),
    "completion_rate": N_("Completion rate"),
    "on_time_rate": N_("On-time rate"),
    "satisfaction_rate": N_("Satisfaction rate"),
    "acceptance_rate": N_("Acceptance rate"),
    "return_rate": N_("Return rate"),
    "redo_rate": N_("Redo rate"),
    "composite_score": N_("Composite score"),
    "handling_hours_median": N_("Handling time, median (working hours)"),
    "handling_hours_mean": N_("Handling time, mean (working hours)"),
    "breaches_now": N_("Past a deadline now"),
    # marks and codes
    "top": N_("Red list"),
    "bottom": N_("Black list"),
    "tied": N_("tied with %(units)s"),
    "min_tickets": N_("not ranked: fewer than %(min)s tickets"),
    "no_rate": N_("not ranked: no rate yet"),
    "pp": N_("%(value)s points"),
    "rose_most": N_("Rose most: %(items)s"),
    "none": N_("None this week."),
    "clock_contact": N_("contact"),
    "clock_resolve": N_("resolve"),
    "yes": N_("yes"),
    "no": N_("no"),
    "order_overdue": N_("open, past its deadline"),
    "outcome_closed": N_("closed"),
    "outcome_merged": N_("merged"),
    "outcome_still_overdue": N_("still overdue"),
    "outcome_open": N_("open, within its deadline"),
    "outcome_summary": N_("Outcome of last week's %(count)s listed tickets: %(summary)s"),
    "cut": N_("%(total)s in all: the first %(shown)s in the order of their numbers are printed here, every one "
              "is in the spreadsheet (XLSX)"),
    "list_overdue": N_("overdue"),
    "list_unsatisfied": N_("unsatisfied"),
    "list_supervision_orders": N_("supervision order"),
    "list_reminder_letters": N_("reminder letter"),
    "trend_new": N_("new"),
    "trend_up": N_("up"),
    "trend_down": N_("down"),
    "trend_flat": N_("flat"),
    "alert_surge": N_("surge"),
    "alert_recurring": N_("recurring issue"),
    "alert_open": N_("open"),
    "alert_closed": N_("closed"),
    "map_caption": N_("The week's busiest cells (numbered as in the table) over the district boundaries"),
    "chart_caption": N_("The bureau's main rates over the last five weeks"),
}
# The bureau's figures table: (figure, kind); a rate's parts are its numerator and denominator.
BUREAU_ROWS: tuple[tuple[str, str], ...] = (
    ("received", "int"), ("intake_records", "int"), ("composite_score", "rate"),
    *((rate, "rate") for rate in RATES), ("handling_hours_median", "hours"), ("handling_hours_mean", "hours"),
    ("breaches_now", "int"),
)
TREND_RATES = ("response_rate", "on_time_rate", "completion_rate", "satisfaction_rate", "composite_score")
RANK_RATES = ("response_rate", "on_time_rate", "satisfaction_rate", "acceptance_rate", "return_rate", "redo_rate")
EMPTY = "—"


def words(lang: str = LANG) -> dict[str, str]:
    return texts(WORDS, lang)


# ------------------------------------------------------------ numbers as text
def text(value: Any, kind: str, pp: str = "%(value)s") -> str:
    """A value as the PDF prints it: ``int`` 412, ``change`` +12, ``rate`` 87.5%, ``pp`` +2.3 (a rate's
    change in percentage points), ``hours`` 20.5, ``interval`` 80.1%–90.2%; nothing is a dash."""
    if value is None or value == "":
        return EMPTY
    if kind == "int":
        return str(value)
    if kind == "change":
        return f"{value:+d}"
    if kind == "rate":
        return percent(value)
    if kind == "pp":
        return pp % {"value": f"{value * 100:+.1f}"}
    if kind == "hours":
        return f"{value:.1f}"
    if kind == "interval":
        return f"{percent(value[0])}–{percent(value[1])}"
    return str(value)


@dataclass
class Column:
    label: str
    kind: str = "text"  # text, int, change, rate, pp, hours, interval
    wide: bool = False  # a free-text column: the PDF lets it take the room
    printed: bool = True  # False: the spreadsheet's only (the branch of a station, where the PDF has a heading)


@dataclass
class Table:
    """One table of the bulletin: its columns, rows of raw values, and each row's marks."""

    key: str
    title: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)  # per row: "top", "bottom", "" …
    note: str = ""
    sheet: str = ""  # the spreadsheet's name for it (default: the title)

    def add(self, row: Sequence[Any], css: str = "") -> None:
        self.rows.append(list(row))
        self.classes.append(css)

    @property
    def printed(self) -> list[Column]:
        return [c for c in self.columns if c.printed]

    def cells(self, pp: str) -> list[list[str]]:
        """The printed columns' cells as text."""
        return [[text(*cell(v, c), pp) for v, c in zip(row, self.columns) if c.printed] for row in self.rows]


@dataclass
class Section:
    title: str
    tables: list[Table]
    notes: list[str] = field(default_factory=list)
    images: list[tuple[str, str]] = field(default_factory=list)  # (data: URI, caption)
    images_first: bool = False  # the map before its table, the chart after its


# ------------------------------------------------------------ the tables
def sections(content: Mapping[str, Any], w: Mapping[str, str], *, images: bool = True,
             rows: int | None = None) -> list[Section]:
    """The bulletin's sections, in order; a branch head's content has no bureau, topics or channels.
    ``rows``: each list of tickets cut after that many rows, its note saying so (the PDF's
    :data:`PRINTED_ROWS`); None: every row (the spreadsheet)."""
    out: list[Section] = []
    lab = labels(LANG)
    bureau = content.get("bureau")
    if bureau is not None:
        out.append(_bureau(bureau, w, images))
    out.append(_rankings(content, w))
    out.append(_exceptions(content, w, lab, rows))
    if content.get("topics") is not None:
        out.append(_split(content, w, lab))
    out.append(_hotspots(content, w, lab, images))
    return out


def _bureau(bureau: Mapping[str, Any], w: Mapping[str, str], images: bool) -> Section:
    main = Table("bureau", w["t_bureau"], [Column(w["c_figure"]), Column(w["c_value"], "num"),
                                           Column(w["c_interval"], "interval"), Column(w["c_numerator"], "int"),
                                           Column(w["c_denominator"], "int"), Column(w["c_change"], "num")])
    wow = bureau["week_on_week"]
    counts = bureau["counts"]
    for key, kind in BUREAU_ROWS:
        num, den = RATES.get(key, (None, None))
        change = wow.get(key)
        main.add([w[key], (bureau[key], kind), bureau["intervals"].get(key) if key in RATES
                  else bureau["composite_interval"] if key == "composite_score" else None,
                  counts[num] if num else None, counts[den] if den else None,
                  None if key not in wow else (change, "change" if kind == "int" else "pp")])
    trend = Table("trend", w["t_trend"], [Column(w["c_week"]), Column(w["received"], "int"),
                                          *(Column(w[r], "rate") for r in TREND_RATES)])
    for entry in reversed(bureau["trend"]):
        trend.add([entry["week"], entry["received"], *(entry[r] for r in TREND_RATES)])
    pictures = [(trend_chart(bureau["trend"], w), w["chart_caption"])] if images else []
    return Section(w["s_bureau"], [main, trend], images=pictures)


def _rank_table(key: str, title: str, group: Mapping[str, Any], w: Mapping[str, str], min_tickets: int,
                sheet: str = "", branch: str | None = None) -> Table:
    columns = [Column(w["c_rank"], "int"), Column(w["c_unit"]), Column(w["c_received"], "int"),
               Column(w["c_score"], "rate"), Column(w["c_interval"], "interval"),
               *(Column(w[r], "rate") for r in RANK_RATES), Column(w["c_note"], wide=True)]
    if branch is not None:
        columns.insert(1, Column(w["c_branch"], printed=False))
    table = Table(key, title, columns, sheet=sheet)
    names = {r["unit"]: r["unit_name"] for r in group["units"]}
    top, bottom = set(group["top"]), set(group["bottom"])
    for row in group["units"]:
        marks = []
        css = "top" if row["unit"] in top else "bottom" if row["unit"] in bottom else ""
        if css:
            marks.append(w[css])
        if row.get("tied"):
            marks.append(w["tied"] % {"units": "、".join(names.get(u, u) for u in row["tied_with"])})
        if row["rank"] is None:
            marks.append(w[row.get("unranked_code") or "no_rate"] % {"min": min_tickets})
        values = [row["rank"], row["unit_name"], row["received"], row["composite_score"], row["composite_interval"],
                  *(row[r] for r in RANK_RATES), "；".join(marks)]
        if branch is not None:
            values.insert(1, branch)
        table.add(values, css + (" unranked" if row["rank"] is None else ""))
    return table


def _rankings(content: Mapping[str, Any], w: Mapping[str, str]) -> Section:
    min_tickets = content["rules"]["min_tickets"]
    rankings = content["rankings"]
    tables = []
    for key in ("branches", "divisions"):
        if rankings[key]["units"]:
            tables.append(_rank_table(key, w[f"t_{key}"], rankings[key], w, min_tickets))
    branch_names = {r["unit"]: r["unit_name"] for r in content["rankings"]["branches"]["units"]}
    branch_names.update({code: s["unit_name"] for code, s in content["units"].items()})
    for code, group in rankings["stations"].items():
        if group["units"]:
            name = branch_names.get(code, code)
            tables.append(_rank_table(f"stations:{code}", w["t_stations"] % {"branch": name}, group, w,
                                      min_tickets, sheet=w["t_stations_sheet"], branch=name))
    rules = content["rules"]
    weights = rules["weights"]
    note = w["rules"] % {"response": f"{weights['response']:g}", "completion": w[f"{rules['completion_measure']}_rate"],
                         "completion_w": f"{weights['completion']:g}", "satisfaction": f"{weights['satisfaction']:g}",
                         "min": rules["min_tickets"]}
    return Section(w["s_rankings"], tables, notes=[note])


def _exceptions(content: Mapping[str, Any], w: Mapping[str, str], lab: Mapping[str, Mapping[str, str]],
                rows: int | None = None) -> Section:
    ex = content["exceptions"]
    topics = lab["topics"]
    unit, number, topic = Column(w["c_unit"]), Column(w["c_number"]), Column(w["c_topic"])

    def day(iso: str | None) -> str | None:
        return local(iso, content["timezone"])

    overdue = Table("overdue", w["t_overdue"], [number, topic, unit, Column(w["c_clock"]), Column(w["c_due"]),
                                                Column(w["c_hours_late"], "hours")])
    for r in ex["overdue"]:
        overdue.add([r["number"], topics.get(r["topic"], r["topic"]), r["unit_name"], w[f"clock_{r['clock']}"],
                     day(r["due_at"]), r["hours_late"]])
    late = Table("closed_late", w["t_closed_late"], [number, topic, unit, Column(w["c_due"]), Column(w["c_closed"]),
                                                     Column(w["c_hours_late"], "hours")])
    for r in ex["closed_late"]:
        late.add([r["number"], topics.get(r["topic"], r["topic"]), r["unit_name"], day(r["due_at"]),
                  day(r["closed_at"]), r["hours_late"]])
    unsatisfied = Table("unsatisfied", w["t_unsatisfied"], [number, topic, unit, Column(w["c_answered"]),
                                                            Column(w["c_level"], "int")])
    for r in ex["unsatisfied"]:
        unsatisfied.add([r["number"], topics.get(r["topic"], r["topic"]), r["unit_name"], day(r["answered_at"]),
                         r["follow_up_level"]])
    names = _unit_names(content)
    orders = Table("supervision_orders", w["t_orders"], [number, Column(w["c_ticket"]), unit, Column(w["c_reason"]),
                                                         Column(w["c_issued"]), Column(w["c_due"]),
                                                         Column(w["c_status"])])
    for r in ex["supervision_orders"]:
        orders.add([r["number"], r["ticket_number"], names.get(r["unit"], r["unit"]),
                    ORDER_REASONS.get(r["reason"], r["reason"]), day(r["issued_at"]), day(r["due_at"]),
                    w["order_overdue"] if r["overdue"] else ORDER_STATUS.get(r["status"], r["status"])])
    letters = Table("reminder_letters", w["t_letters"], [number, Column(w["c_ticket"]), unit, Column(w["c_reason"]),
                                                         Column(w["c_issued"]), Column(w["c_acknowledged"])])
    for r in ex["reminder_letters"]:
        letters.add([r["number"], r["ticket_number"], names.get(r["unit"], r["unit"]),
                     LETTER_REASONS.get(r["reason"], r["reason"]), day(r["issued_at"]),
                     w["yes" if r["acknowledged"] else "no"]])
    threshold = text(content["rules"]["satisfaction_threshold"], "rate")
    below = Table("below_satisfaction", w["t_below"] % {"threshold": threshold},
                  [unit, Column(w["satisfaction_rate"], "rate"), Column(w["c_interval"], "interval"),
                   Column(w["c_satisfied"], "int"), Column(w["c_answered_count"], "int")], sheet=w["t_below_sheet"])
    for r in ex["below_satisfaction"]:
        below.add([r["unit_name"], r["satisfaction_rate"], r["interval"], r["satisfied"], r["answered"]], "bottom")
    last = ex["last_week"]
    last_table = Table("last_week", w["t_last_week"], [number, topic, unit, Column(w["c_listed_for"]),
                                                       Column(w["c_outcome"]), Column(w["c_closed"]),
                                                       Column(w["c_answer"])])
    for r in last["items"]:
        last_table.add([r["number"], topics.get(r["topic"], r["topic"]), r["unit_name"],
                        "、".join(w.get(f"list_{n}", n) for n in r["listed_for"]),
                        w.get(f"outcome_{r['outcome']}", r["outcome"]), day(r["closed_at"]),
                        ANSWERS.get(r["satisfaction"] or "", None)], "bottom" if r["outcome"] == "still_overdue" else "")
    if last["items"]:
        summary = "，".join(f"{w.get(f'outcome_{k}', k)} {v}" for k, v in last["summary"].items())
        last_table.note = w["outcome_summary"] % {"count": len(last["items"]), "summary": summary}
    if rows is not None:
        for table in (overdue, late, unsatisfied, orders, letters, last_table):  # not the units below the threshold
            cut(table, rows, w)
    return Section(w["s_exceptions"], [overdue, late, unsatisfied, orders, letters, below, last_table])


def cut(table: Table, rows: int, w: Mapping[str, str]) -> None:
    """Keep the first ``rows`` rows of ``table``; if there were more, its note says how many and where
    they all are."""
    total = len(table.rows)
    if total <= rows:
        return
    del table.rows[rows:], table.classes[rows:]
    said = w["cut"] % {"total": total, "shown": rows}
    table.note = f"{table.note}；{said}" if table.note else said


def local(iso: str | None, zone: str) -> str | None:
    """A stored moment (ISO 8601, any offset) as the bureau's local time, to the minute."""
    if not iso:
        return None
    at = datetime.fromisoformat(iso)
    return f"{at.astimezone(ZoneInfo(zone)) if at.tzinfo else at:%Y-%m-%d %H:%M}"


def _unit_names(content: Mapping[str, Any]) -> dict[str, str]:
    names = {code: s["unit_name"] for code, s in content["units"].items()}
    for name in ("overdue", "closed_late", "unsatisfied"):
        names.update({r["unit"]: r["unit_name"] for r in content["exceptions"][name] if r.get("unit_name")})
    return names


def _split(content: Mapping[str, Any], w: Mapping[str, str], lab: Mapping[str, Mapping[str, str]]) -> Section:
    tables: list[Table] = []
    notes: list[str] = []
    for key, vocabulary, column in (("topics", lab["topics"], "c_topic"), ("channels", lab["channels"], "c_channel")):
        split = content[key]
        table = Table(key, w[f"t_{key}"], [Column(w[column]), Column(w["c_count"], "int"),
                                           Column(w["c_previous"], "int"), Column(w["c_change"], "change"),
                                           Column(w["c_share"], "rate")])
        rose = set(split["rose_most"])
        for item in split["items"]:
            table.add([vocabulary.get(item["key"], item["key"]), item["count"], item["previous"], item["change"],
                       item["share"]], "top" if item["key"] in rose else "")
        if split["rose_most"]:
            table.note = w["rose_most"] % {"items": "、".join(vocabulary.get(k, k) for k in split["rose_most"])}
        tables.append(table)
    return Section(w["s_topics"], tables, notes=notes)


def _hotspots(content: Mapping[str, Any], w: Mapping[str, str], lab: Mapping[str, Mapping[str, str]],
              images: bool) -> Section:
    spots = content["hotspots"]
    topics = lab["topics"]
    cells = Table("cells", w["t_cells"], [Column(w["c_rank"], "int"), Column(w["c_cell"]), Column(w["c_unit"]),
                                          Column(w["c_count"], "int"), Column(w["c_previous"], "int"),
                                          Column(w["c_change"], "change"), Column(w["c_trend"]),
                                          Column(w["c_topics"], wide=True)])
    for i, c in enumerate(spots["cells"], start=1):
        cells.add([i, c["cell"], c["unit_name"], c["count"], c["previous"], c["change"],
                   w.get(f"trend_{c['trend']}", c["trend"]), _topics_text(c["topics"], topics)],
                  "top" if c["trend"] in ("up", "new") else "")
    alerts = Table("alerts", w["t_alerts"], [Column(w["c_kind"]), Column(w["c_topic"]), Column(w["c_area"], wide=True),
                                             Column(w["c_day"]), Column(w["c_count"], "int"),
                                             Column(w["c_baseline"], "hours"), Column(w["c_status"])])
    for a in spots["alerts"]:
        alerts.add([w.get(f"alert_{a['kind']}", a["kind"]), topics.get(a["topic"], a["topic"]),
                    a["area_name"] or a["area"], a["day"] or a["first_seen_at"][:10], a["count"], a["baseline"],
                    w.get(f"alert_{a['status']}", a["status"])])
    pictures = [(hotspot_map(spots["cells"]), w["map_caption"])] if images and spots["cells"] else []
    return Section(w["s_hotspots"], [cells, alerts], images=pictures, images_first=True)


def _topics_text(found: Any, vocabulary: Mapping[str, str]) -> str:
    if isinstance(found, Mapping):
        ordered = sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        return "、".join(f"{vocabulary.get(k, k)} {v}" for k, v in ordered)
    return "、".join(vocabulary.get(str(k), str(k)) for k in list(found or [])[:3])


# ------------------------------------------------------------ figures drawn
def _png(draw: Callable[[Any], None], size: tuple[float, float]) -> str:
    """A matplotlib figure drawn by ``draw(figure)`` as a 200-dpi PNG data: URI, in the CJK sans font."""
    import matplotlib
    from matplotlib import font_manager
    from matplotlib.figure import Figure

    try:
        font_manager.findfont(font_manager.FontProperties(family=documents.SANS), fallback_to_default=False)
    except ValueError as exc:  # drawn in another font, the Chinese would be boxes
        raise DocumentsUnavailable("font_missing", f"matplotlib has no {documents.SANS}") from exc
    with _DRAW_LOCK, matplotlib.rc_context({"font.family": [documents.SANS], "axes.unicode_minus": False,
                                           "svg.fonttype": "none"}):
        figure = Figure(figsize=size, layout="constrained")
        draw(figure)
        out = BytesIO()
        figure.savefig(out, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def trend_chart(trend: Sequence[Mapping[str, Any]], w: Mapping[str, str]) -> str:
    weeks = [entry["week"] for entry in reversed(trend)]

    def draw(figure: Any) -> None:
        ax = figure.subplots()
        for rate, style in zip(TREND_RATES, ("o-", "s-", "^-", "D-", "k*--")):
            values = [entry[rate] * 100 if entry[rate] is not None else float("nan") for entry in reversed(trend)]
            ax.plot(weeks, values, style, label=w[rate], linewidth=1.4, markersize=4)
        ax.set_ylabel("%")
        ax.grid(True, linewidth=0.4, alpha=0.6)
        ax.legend(fontsize=7, ncol=5, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
        ax.tick_params(labelsize=7)

    return _png(draw, (6.6, 2.6))


def hotspot_map(cells: Sequence[Mapping[str, Any]]) -> str:
    """The cells' centroids (numbered, sized by count) over the district boundaries near them."""
    from geo.districts import load_districts

    lats, lons = [c["lat"] for c in cells], [c["lon"] for c in cells]
    pad = max(0.04, 0.25 * max(max(lats) - min(lats), max(lons) - min(lons)))
    box = (min(lons) - pad, max(lons) + pad, min(lats) - pad, max(lats) + pad)

    def draw(figure: Any) -> None:
        ax = figure.subplots()
        for district in load_districts().values():
            geometry = district.geometry
            parts = getattr(geometry, "geoms", [geometry])
            for polygon in parts:
                x, y = polygon.exterior.xy
                ax.fill(x, y, facecolor="#f3f1ea", edgecolor="#777", linewidth=0.7)
            inside = geometry.representative_point()
            if box[0] < inside.x < box[1] and box[2] < inside.y < box[3]:
                ax.annotate(district.name, (inside.x, inside.y), fontsize=7, color="#555", ha="center")
        biggest = max(c["count"] for c in cells) or 1
        ax.scatter(lons, lats, s=[30 + 220 * c["count"] / biggest for c in cells], c="#c8161d", alpha=0.65,
                   edgecolors="#7a0d12", linewidths=0.6, zorder=3)
        for i, c in enumerate(cells, start=1):
            ax.annotate(str(i), (c["lon"], c["lat"]), fontsize=6.5, color="white", ha="center", va="center",
                        zorder=4, fontweight="bold")
        ax.set_xlim(box[0], box[1])
        ax.set_ylim(box[2], box[3])
        ax.set_aspect(1.25)  # ~1/cos(37°): degrees of longitude are shorter here
        ax.tick_params(labelsize=6)

    return _png(draw, (6.6, 3.6))


# ------------------------------------------------------------ the document
def _css_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def filename(content: Mapping[str, Any], extension: str) -> str:
    scope = content.get("scope") or {}
    suffix = "" if scope.get("city_wide", True) else "-" + "-".join(scope.get("units") or [])[:40]
    marker = "-provisional" if content.get("provisional") else f"-v{content.get('version')}"
    return f"每周通报{content['week']}{marker}{suffix}.{extension}"


def document_html(content: Mapping[str, Any], bureau_name: str, *, images: bool = True,
                  rows: int | None = PRINTED_ROWS) -> str:
    w = words()
    year, number = content["week"].split("-W")
    first, last = content["from"], content["to"]
    before, after = (w["page"] % {"week": content["week"]}).split("{page}")
    page_css = f"{_css_string(before)} counter(page) {_css_string(after)}"
    provisional_css = _css_string(w["provisional_mark"]) if content.get("provisional") else "none"
    scope = content.get("scope") or {}
    scoped = "" if scope.get("city_wide", True) else w["scope"] % {
        "units": "、".join(content["units"][c]["unit_name"] for c in (scope.get("units") or [])
                          if content["units"][c]["group"] != "stations")}
    pp = w["pp"]
    return html("bulletin.html", title=f"{bureau_name}{w['kind']} {content['week']}", kind=w["kind"],
                bureau_name=bureau_name, number=content["week"], signer=w["issuer"], w=w, pp=pp,
                week_title=w["week_title"] % {"year": year, "number": int(number),
                                              "first": f"{int(first[5:7])}月{int(first[8:10])}日",
                                              "last": f"{int(last[5:7])}月{int(last[8:10])}日"},
                as_of=w["as_of"] % {"at": local(content["as_of"], content["timezone"])},
                version=w["version"] % {"version": content["version"]} if content.get("version") else "",
                provisional=bool(content.get("provisional")), scoped=scoped,
                page_css=Markup(page_css), provisional_css=Markup(provisional_css),
                sections=sections(content, w, images=images, rows=rows), text=text)


def pdf(content: Mapping[str, Any], bureau_name: str, *, rows: int | None = PRINTED_ROWS) -> bytes:
    """The bulletin as an A4 PDF (``documents.DocumentsUnavailable`` if this server cannot print); each
    list of tickets cut after ``rows`` rows, saying so (None: every row)."""
    return write_pdf(document_html(content, bureau_name, rows=rows))


def bureau_text(content: Mapping[str, Any]) -> list[str]:
    """Every number of the bureau's table as the PDF prints it (for a reader checking the print)."""
    w = words()
    table = _bureau(content["bureau"], w, images=False).tables[0]
    return [cell for row in table.cells(w["pp"]) for cell in row[1:]]


def cell(value: Any, column: Column) -> tuple[Any, str]:
    """A cell's value and kind: a mixed column (``num``, the bureau's values) holds (value, kind) pairs."""
    if column.kind == "num":
        return value if isinstance(value, tuple) else (value, "text")
    return value, column.kind
