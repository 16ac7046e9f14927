"""Benchmark: the weekly bulletin (每周通报) over a year of tickets on PostgreSQL.

Starts a throwaway PostgreSQL 15 (``tests.servers.PostgresServer``), migrates it, loads the
Jinan bureau, then writes a year of synthetic history straight into the tables with COPY
(1,000,000 tickets by default), as the platform's own steps would have left it:

- tickets received over the 53 weeks up to the bulletin's make time (the Monday after the
  week, 07:00), more by day than by night, fewer at weekends, rising over the year, so the
  week holds about 1/50 of them; at the 67 stations of the bureau with a skew (the city
  districts busier than the counties), at ~17,000 places (estates, streets) some far busier
  than others; traffic, vehicle and exit-entry topics at the units that own them;
- each ticket's life through the lifecycle (dispatch, 退单 and re-dispatch, 签收, contact,
  report, 审核退回, approval, reply, follow-ups by SMS or by phone after 48 h, 不满意 → redo
  at level 2 and 3, closing with findings), with the deadlines of the SLA policy file in
  working time; a few tickets stuck for days; everything after the make time cut off, so
  the recent ones are open as they would be;
- the timeline (ticket_events: every step), the follow-ups, intake records (4% merged
  duplicates), supervision orders (overdue, and after 审核退回) and reminder letters
  (不满意, repeated complaints, leaders' instructions), early warnings, the day serials.

The load is one transaction: foreign keys are not checked row by row but all at once after it,
the secondary indexes are built after the rows are in (from their own definitions), then
VACUUM ANALYZE.

Then it measures ``tickets.bulletin.compute`` of the week as of its make time (the previous
week's bulletin frozen first, so "last week's exceptions" has something to follow up), the
PDF (``dashboard.documents.bulletin.pdf``) and the spreadsheet of that content, each a few
times (in a process whose collector is tuned as the platform's); and prints the content's size,
the PDF's pages and bytes.

    python bench/bulletin.py                            # 1,000,000 tickets (the figures quoted)
    python bench/bulletin.py --tickets 100000 --runs 2  # a quick look
    python bench/bulletin.py --parts                    # where compute's time goes
    python bench/bulletin.py --full-pdf --json          # the PDF once more with every row; JSON too
    python bench/bulletin.py --database-url URL         # an existing database (loaded if it has no tickets)

Targets (docs/PERFORMANCE.md): compute ≤ 30 s, PDF ≤ 10 s.
"""
from __future__ import annotations

import argparse
import functools
import io
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from numpy.dtypes import StringDType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TZ = ZoneInfo("Asia/Shanghai")
OFFSET = 8 * 3600  # Asia/Shanghai keeps +08:00 all year (no summer time since 1991)
STEP = 15  # seconds: the grid every deadline is computed on (the policy's hours are whole quarter-minutes)
M, H, D = 60.0, 3600.0, 86400.0
S = StringDType()
NULL = "\\N"

TOPICS = {  # weight, titles
    "noise": (22, ["夜间施工噪音扰民", "楼下烧烤店噪音扰民", "广场舞音响声音过大", "装修噪音影响休息"]),
    "dispute": (14, ["邻里纠纷请求调解", "停车位纠纷", "物业纠纷请求处理"]),
    "traffic": (12, ["路口车辆乱停放", "早晚高峰拥堵请求疏导", "违停占用消防通道"]),
    "household": (9, ["户口迁移咨询", "居住证办理进度", "身份证补办咨询"]),
    "theft": (7, ["电动车被盗", "小区车辆被撬", "店铺财物被盗"]),
    "fraud": (6, ["电信诈骗求助", "网购被骗求助", "冒充客服诈骗"]),
    "vehicle": (5, ["驾驶证换证咨询", "车辆年检预约", "机动车登记咨询"]),
    "exit_entry": (4, ["护照办理进度", "港澳通行证续签", "出入境证件咨询"]),
    "conduct": (3, ["反映民警执法态度", "办事窗口服务态度"]),
    "lost_property": (6, ["遗失钱包求助", "手机遗失求助", "证件遗失"]),
    "other": (12, ["建议增加巡逻", "咨询办事流程", "其他求助"]),
}
CHANNELS = {"hotline_12345": 55, "cad_110": 12, "call": 8, "director_mailbox": 5, "service_window": 5,
            "visit": 4, "letter": 3, "discipline_hotline": 2}
KINDS = {"complaint": 35, "help": 25, "consultation": 20, "report": 10, "suggestion": 7, "praise": 3}
ENFORCEMENT_TOPICS = ("theft", "fraud", "conduct")
OWNED = ("traffic", "vehicle", "exit_entry")  # topics a division's unit handles, by district for traffic
CITY = ("JN-LX", "JN-SZ", "JN-HY", "JN-TQ", "JN-LC")  # the central districts' branches: busier
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
HOURLY = np.array([0.25, 0.15, 0.1, 0.08, 0.08, 0.12, 0.3, 0.6, 1.0, 1.3, 1.35, 1.2,
                   0.9, 0.95, 1.2, 1.25, 1.2, 1.1, 1.0, 1.05, 1.0, 0.85, 0.6, 0.4])
WEEKDAY = np.array([1.08, 1.0, 1.0, 1.0, 0.98, 0.85, 0.82])  # Monday first


# ====================================================================== the year
class Grid:
    """Working time on a 15-second grid over the whole span (the SLA policy's working periods on
    the working days of the official calendar), for adding working hours to many instants at once.
    Exact where ``tickets.sla.add_working_hours`` is (checked on a sample in :func:`check_deadlines`)."""

    def __init__(self, first: date, last: date) -> None:
        from tickets import sla

        self.policy = sla.policy_for()
        self.base = datetime.combine(first, datetime.min.time(), TZ).timestamp()
        days = (last - first).days + 1
        per_day = 86400 // STEP
        working = np.zeros(days * per_day, dtype=np.int32)
        for d in range(days):
            if sla.is_working_day(first + timedelta(days=d)):
                for begin, end in self.policy.working_periods:
                    a = (begin.hour * 3600 + begin.minute * 60) // STEP
                    b = (end.hour * 3600 + end.minute * 60) // STEP
                    working[d * per_day + a:d * per_day + b] = 1
        self.cum = np.concatenate([[0], np.cumsum(working, dtype=np.int64)])

    def add(self, at: np.ndarray, hours: np.ndarray | float) -> np.ndarray:
        """``at`` (seconds, on the grid; NaN: none) plus ``hours`` of working time."""
        k = np.where(np.isnan(at), -1, (np.nan_to_num(at) - self.base) / STEP).astype(np.int64)
        ok = (k >= 0) & (k < self.cum.size)  # beyond the grid: only instants after the make time
        k = np.where(ok, k, 0)
        need = np.rint(np.asarray(hours) * 3600 / STEP).astype(np.int64)
        end = np.searchsorted(self.cum, self.cum[k] + need, side="left")
        return np.where(ok & (end < self.cum.size), self.base + end * STEP, np.nan)


def on_grid(at: np.ndarray) -> np.ndarray:
    return np.ceil(at / STEP) * STEP


class Year:
    """A year of tickets and everything they left behind, as numpy columns (seconds since the
    epoch, NaN for none), cut off at ``now``."""

    def __init__(self, n: int, week: str, seed: int, units: list[dict[str, Any]]) -> None:
        from tickets.bulletin import week_bounds

        self.n = n
        self.rng = np.random.default_rng(seed)
        monday, _sunday, _start, end = week_bounds(week, TZ)
        self.week_end = end.timestamp()
        self.now = (end + timedelta(hours=7)).timestamp()  # the Monday after, 07:00: when it is made
        self.first_day = monday - timedelta(weeks=52)
        self.grid = Grid(self.first_day - timedelta(days=1), monday + timedelta(days=21))
        self.units = units
        self._orders: dict[str, np.ndarray] | None = None

    # ------------------------------------------------------------------ helpers
    def lognormal(self, median: float, sigma: float, size: int | None = None) -> np.ndarray:
        return self.rng.lognormal(np.log(median), sigma, self.n if size is None else size)

    def chance(self, p: float, size: int | None = None) -> np.ndarray:
        return self.rng.random(self.n if size is None else size) < p

    def pick(self, weights: dict[str, int] | list[float], size: int | None = None) -> np.ndarray:
        w = np.array(list(weights.values()) if isinstance(weights, dict) else weights, dtype=float)
        return self.rng.choice(len(w), size=self.n if size is None else size, p=w / w.sum())

    # ------------------------------------------------------------------ arrivals
    def arrivals(self) -> np.ndarray:
        """Received instants, sorted: an hourly intensity (time of day, weekday, a rising year)."""
        start = datetime.combine(self.first_day, datetime.min.time(), TZ).timestamp()
        hours = int((self.now - start) // H)
        local = np.arange(hours)
        weight = HOURLY[local % 24] * WEEKDAY[(local // 24) % 7] * np.linspace(0.9, 1.1, hours)
        hour = self.rng.choice(hours, size=self.n, p=weight / weight.sum())
        at = start + hour * H + self.rng.integers(0, 3600, self.n)
        return np.sort(np.minimum(at, self.now - 1).astype(np.float64))

    # ------------------------------------------------------------------ places and units
    def places(self) -> None:
        rng, n = self.rng, self.n
        by_code = {u["code"]: u for u in self.units}
        stations = [u for u in self.units if u["kind"] == "station" and u["lat"] is not None]
        parent = {u["id"]: u for u in self.units}
        weight = rng.lognormal(0, 0.5, len(stations)) * np.array(
            [2.0 if parent[s["parent_id"]]["code"] in CITY else 1.0 for s in stations])
        station = self.pick(list(weight))
        per_station = 250
        local = rng.choice(per_station, size=n, p=(w := 1 / np.arange(1, per_station + 1) ** 0.9) / w.sum())
        slat = np.array([s["lat"] for s in stations])
        slon = np.array([s["lon"] for s in stations])
        place_lat = slat[:, None] + rng.normal(0, 0.010, (len(stations), per_station))
        place_lon = slon[:, None] + rng.normal(0, 0.012, (len(stations), per_station))
        lat = place_lat[station, local] + rng.normal(0, 0.0004, n)
        lon = place_lon[station, local] + rng.normal(0, 0.0004, n)
        located = ~self.chance(0.03)  # letters and visits without a place
        from geo.jurisdictions import routing_jurisdictions

        codes = routing_jurisdictions().stations_at(list(lat), list(lon))
        station_code = np.array([s["code"] for s in stations], dtype=object)[station]
        found = np.array([c if c is not None and c in by_code else sc for c, sc in zip(codes, station_code)],
                         dtype=object)
        home = np.where(located, found, station_code)
        district = {u["code"]: u["district"] for u in self.units}
        topic = self.topic
        owners: dict[str, list[dict[str, Any]]] = {}
        for u in self.units:
            for t in u["topics"] or []:
                owners.setdefault(t, []).append(u)
        unit_code = home.copy()
        branch_held = self.chance(0.015)
        names = list(TOPICS)
        for t in OWNED:
            mask = topic == names.index(t)
            if t == "traffic":
                brigade = {u["district"]: u["code"] for u in owners[t]}
                unit_code[mask] = [brigade.get(district[h], owners[t][0]["code"]) for h in home[mask]]
            else:
                unit_code[mask] = owners[t][0]["code"]
        station_of = {u["code"]: u for u in self.units}
        held = branch_held & np.isin(topic, [names.index(t) for t in OWNED], invert=True)
        unit_code[held] = [parent[station_of[h]["parent_id"]]["code"] for h in home[held]]
        ids = {u["code"]: u["id"] for u in self.units}
        levels = {u["code"]: u["level"] for u in self.units}
        self.unit_id = np.array([ids[c] for c in unit_code], dtype=np.int64)
        self.unit_level = np.array([levels[c] for c in unit_code], dtype=np.int64)
        # 退单: the first unit said it was not theirs; another station of the same branch took it
        siblings: dict[int, list[int]] = {}
        for s in stations:
            siblings.setdefault(s["parent_id"], []).append(s["id"])
        first_unit = self.unit_id.copy()
        for i in np.flatnonzero(self.returned):
            u = parent[int(self.unit_id[i])]
            options = [x for x in siblings.get(u["parent_id"] or -1, []) if x != u["id"]]
            if options:
                first_unit[i] = options[int(rng.integers(len(options)))]
        self.first_unit = first_unit
        self.first_level = np.array([parent[int(x)]["level"] for x in first_unit], dtype=np.int64)
        self.lat = np.where(located, lat, np.nan)
        self.lon = np.where(located, lon, np.nan)
        self.district = np.array([district[h] or "" for h in home], dtype=S)
        self.place = np.array([f"{station_of[h]['name'].removesuffix('派出所')}片区" for h in home], dtype=S)
        self.place_no = local

    # ------------------------------------------------------------------ lives
    def build(self) -> None:
        rng, n = self.rng, self.n
        grid = self.grid
        self.rec = self.arrivals()
        self.topic = self.pick({k: v[0] for k, v in TOPICS.items()})
        self.channel = self.pick(CHANNELS)
        self.kind = self.pick(KINDS)
        names = list(TOPICS)
        enforcement = np.isin(self.topic, [names.index(t) for t in ENFORCEMENT_TOPICS])
        consultation = self.kind == list(KINDS).index("consultation")
        self.sla_class = np.where(consultation, 0, np.where(enforcement, 1, 2))  # SLA_CLASS_NAMES
        policy = grid.policy
        resolve_hours = np.array([policy.resolve_hours(c) for c in SLA_CLASS_NAMES])[self.sla_class]
        amber = policy.amber_share
        self.merged = self.chance(0.006)
        self.merged[0] = False  # a merged ticket names an earlier one
        self.returned = ~self.merged & self.chance(0.03)
        self.places()

        disp = on_grid(self.rec + np.minimum(self.lognormal(5 * M, 0.9), 6 * H))
        self.deadlines = {
            "contact_due": disp + policy.contact_hours * H, "contact_warn": disp + policy.contact_hours * H * amber,
            "resolve_due": grid.add(disp, resolve_hours), "resolve_warn": grid.add(disp, resolve_hours * amber)}
        work = ~self.merged

        def only(mask: np.ndarray, at: np.ndarray) -> np.ndarray:
            return np.where(mask, at, np.nan)

        ret = only(self.returned, disp + self.lognormal(25 * M, 0.8))
        redisp = only(self.returned, on_grid(ret + self.lognormal(20 * M, 0.8)))
        begin = np.where(self.returned, redisp, disp)
        stuck = work & self.chance(0.012)
        stage = rng.integers(0, 3, n)
        delay = (1 * D + rng.exponential(4 * D, n))

        def pause(k: int) -> np.ndarray:
            return np.where(stuck & (stage == k), delay, 0.0)

        explicit = self.chance(0.9)
        acc_raw = begin + self.lognormal(8 * M, 0.9) + pause(0)
        con = acc_raw + self.lognormal(10 * M, 0.9) + pause(1)
        rep1 = con + self.lognormal(2.5 * H, 0.9) + pause(2)
        sent_back = self.chance(0.03)
        sb = only(sent_back, rep1 + self.lognormal(40 * M, 0.7))
        rep1b = only(sent_back, sb + self.lognormal(3 * H, 1.0))
        rep = np.where(sent_back, rep1b, rep1)

        def round_(start_report: np.ndarray, sms: float, answers: list[float]) -> dict[str, np.ndarray]:
            appr = start_report + self.lognormal(25 * M, 0.8)
            reply = appr + self.lognormal(10 * M, 0.8)
            asked = reply + 60
            by_sms = self.chance(sms)
            sms_at = asked + self.lognormal(35 * M, 1.1)
            phone_asked = asked + 48 * H  # FollowUpRules.no_answer_hours: a phone task
            phone_at = phone_asked + self.lognormal(3 * H, 0.8)
            answer = self.pick(answers)  # 0 satisfied, 1 basically satisfied, 2 unsatisfied
            return {"approve": appr, "reply": reply, "asked": asked, "by_sms": by_sms, "phone_asked": phone_asked,
                    "answered": np.where(by_sms, sms_at, phone_at), "answer": answer}

        r1 = round_(rep, 0.96, [0.86, 0.09, 0.05])
        redo2 = only(work & (r1["answer"] == 2), r1["answered"])
        rd2 = on_grid(redo2)
        rep2 = rd2 + self.lognormal(6 * H, 1.0)
        r2 = round_(rep2, 0.9, [0.65, 0.2, 0.15])
        redo3 = only(r2["answer"] == 2, r2["answered"])
        rd3 = on_grid(redo3)
        rep3 = rd3 + self.lognormal(8 * H, 1.0)
        r3 = round_(rep3, 0.9, [0.5, 0.2, 0.3])
        findings = r3["answered"] + self.lognormal(20 * H, 0.6)
        merge_at = only(self.merged, disp + self.lognormal(30 * M, 1.0))
        self.merged_into = np.maximum(np.arange(n) - rng.integers(1, 300, n), 0) + 1  # an earlier ticket's id

        closes = [only(r1["answer"] < 2, r1["answered"]), only(r2["answer"] < 2, r2["answered"]), findings]
        # The timeline's slots, in the order they happen to one ticket: (kind, instants, status after).
        def w(at: np.ndarray) -> np.ndarray:  # merged tickets have no life after their dispatch
            return only(work, at)

        self.slots: list[tuple[str, np.ndarray, str | None]] = [
            ("received", self.rec, "received"),
            ("dispatched", disp, "dispatched"),
            ("return", w(ret), "returned"),
            ("dispatched", w(redisp), "dispatched"),
            ("accept", w(only(explicit, acc_raw)), "accepted"),
            ("contact", w(con), "contacted"),
            ("report", w(rep1), "reported"),
            ("send_back", w(sb), "contacted"),
            ("report", w(rep1b), "reported"),
            ("approve", w(r1["approve"]), "approved"),
            ("reply", w(r1["reply"]), "replied"),
            ("follow_up_answered", w(r1["answered"]), None),
            ("close", w(closes[0]), "closed"),
            ("redo", redo2, "contacted"),
            ("report", rep2, "reported"),
            ("approve", r2["approve"], "approved"),
            ("reply", r2["reply"], "replied"),
            ("follow_up_answered", r2["answered"], None),
            ("close", closes[1], "closed"),
            ("redo", redo3, "contacted"),
            ("report", rep3, "reported"),
            ("approve", r3["approve"], "approved"),
            ("reply", r3["reply"], "replied"),
            ("follow_up_answered", r3["answered"], None),
            ("findings", findings, None),
            ("close", closes[2], "closed"),
            ("merge", merge_at, "merged"),
        ]
        self.rounds = [(r1, work), (r2, ~np.isnan(redo2)), (r3, ~np.isnan(redo3))]
        self.redo_deadlines = [(rd2, grid.add(rd2, resolve_hours), grid.add(rd2, resolve_hours * amber)),
                               (rd3, grid.add(rd3, resolve_hours), grid.add(rd3, resolve_hours * amber))]
        self.held_until = [(rep1, self.deadlines["resolve_due"]), (rep2, self.redo_deadlines[0][1]),
                           (rep3, self.redo_deadlines[1][1])]
        self.sb, self.rep1b = sb, rep1b
        self.explicit, self.disp = explicit, disp

    def seen(self, at: np.ndarray) -> np.ndarray:
        """Happened by the make time."""
        return ~np.isnan(at) & (at <= self.now)

    # ------------------------------------------------------------------ rows
    def tickets(self) -> dict[str, np.ndarray]:
        n = self.n
        valid = np.stack([self.seen(at) for _, at, _ in self.slots], axis=1)
        changes = np.array([status is not None for _, _, status in self.slots])
        last = (len(self.slots) - 1) - np.argmax((valid & changes)[:, ::-1], axis=1)
        statuses = np.array([s or "" for _, _, s in self.slots], dtype=S)
        status = statuses[last]
        k = {i: valid[:, i] for i in range(len(self.slots))}
        at = {i: self.slots[i][1] for i in range(len(self.slots))}

        def latest(*slots: int) -> np.ndarray:
            out = np.full(n, np.nan)
            for i in slots:
                out = np.where(k[i], at[i], out)
            return out

        dispatched = k[1]
        accepted_at = np.where(self.explicit, latest(4), latest(5))
        closed_at = latest(12, 18, 25)
        redo_count = (k[7].astype(int) + k[13] + k[19]).astype(np.int64)
        level = (1 + k[13].astype(int) + k[19]).astype(np.int64)
        rd = self.deadlines
        resolve_due = np.where(k[19], self.redo_deadlines[1][1], np.where(k[13], self.redo_deadlines[0][1],
                                                                            rd["resolve_due"]))
        resolve_warn = np.where(k[19], self.redo_deadlines[1][2], np.where(k[13], self.redo_deadlines[0][2],
                                                                             rd["resolve_warn"]))
        answers = np.array(["satisfied", "basically_satisfied", "unsatisfied"], dtype=S)
        satisfaction: np.ndarray = np.full(n, NULL, dtype=S)
        for slot, (r, _) in zip((11, 17, 23), self.rounds):
            satisfaction = np.where(k[slot], answers[r["answer"]], satisfaction)
        returned_now = k[2] & ~k[3]
        unit = np.where(returned_now, self.first_unit, self.unit_id)  # 退单: still at the unit that returned it
        self.current_unit = unit
        direct = np.where(self.returned, self.first_level == 3, self.unit_level == 3)
        local_day = ((self.rec + OFFSET) // D).astype(np.int64)
        self.number = _numbers("MS", local_day)
        self.serials = _day_serials("MS", local_day)
        topic_names = np.array(list(TOPICS), dtype=S)
        titles = [TOPICS[t][1] for t in TOPICS]
        title_pick = self.rng.integers(0, 12, n)
        title = np.array([titles[t][p % len(titles[t])] for t, p in zip(self.topic, title_pick)], dtype=S)
        names = np.array([f"{s}{g}" for s in SURNAMES for g in ("先生", "女士")], dtype=S)
        citizen = names[self.rng.integers(0, len(names), n)]
        phone = np.strings.add("1", np.strings.zfill(self.rng.integers(3_000_000_000, 9_999_999_999, n).astype(S), 10))
        located = ~np.isnan(self.lat)
        address = np.where(located, np.strings.add(np.strings.add(self.district, self.place),
                                                   np.strings.add(self.place_no.astype(S), "号院")), NULL)
        ids = np.arange(1, n + 1)
        self.ids = ids
        self.versions = valid.sum(axis=1)
        return {
            "id": ints(ids), "number": self.number, "channel": np.array(list(CHANNELS), dtype=S)[self.channel],
            "kind": np.array(list(KINDS), dtype=S)[self.kind],
            "sla_class": np.array(SLA_CLASS_NAMES, dtype=S)[self.sla_class],
            "topic": topic_names[self.topic], "title": title,
            "content": np.strings.add(title, "，请求处理。"),
            "district": np.where(self.district == "", NULL, self.district), "address": address,
            "lat": floats(self.lat), "lon": floats(self.lon),
            "citizen_name": citizen, "citizen_phone": phone, "status": status,
            "unit_id": ints(unit), "direct_dispatch": np.where(dispatched, np.where(direct, "t", "f"), NULL),
            "received_at": stamps(self.rec), "dispatched_at": stamps(latest(1)),
            "accepted_at": stamps(accepted_at), "contacted_at": stamps(latest(5)), "closed_at": stamps(closed_at),
            "contact_due_at": stamps(np.where(dispatched, rd["contact_due"], np.nan)),
            "resolve_due_at": stamps(np.where(dispatched, resolve_due, np.nan)),
            "contact_warn_at": stamps(np.where(dispatched, rd["contact_warn"], np.nan)),
            "resolve_warn_at": stamps(np.where(dispatched, resolve_warn, np.nan)),
            "reported_at": stamps(latest(6, 8, 14, 20)), "replied_at": stamps(latest(10, 16, 22)),
            "escalation_level": ints(level), "redo_count": ints(redo_count), "satisfaction": satisfaction,
            "extension_pending": np.full(n, "f", dtype=S),
            "merged_into_id": np.where(k[26], ints(self.merged_into), NULL),
            "version": ints(self.versions),
            **self.figure_facts(closed_at, k[2]),
        }

    def figure_facts(self, closed_at: np.ndarray, returned: np.ndarray) -> dict[str, np.ndarray]:
        """What the close, 退单 and follow-up steps keep on each ticket (migration 0016): handling
        hours by the platform's own function, follow-ups counted from the loader's own rows."""
        from tickets.figures import SATISFIED_ANSWERS, handling_time

        hours = np.full(self.n, np.nan)
        for i in np.flatnonzero(~np.isnan(closed_at)):
            hours[i] = handling_time(datetime.fromtimestamp(self.rec[i], timezone.utc),
                                     datetime.fromtimestamp(closed_at[i], timezone.utc), TZ, None)
        fu = self.follow_ups()
        answered = fu["status"] == "answered"
        who = fu["ticket_id"].astype(np.int64) - 1
        satisfied = answered & np.isin(fu["answer"], np.array(sorted(SATISFIED_ANSWERS), dtype=S))
        return {"handling_hours": floats(hours), "returned": np.where(returned, "t", "f").astype(S),
                "follow_ups_answered": ints(np.bincount(who[answered], minlength=self.n)),
                "follow_ups_satisfied": ints(np.bincount(who[satisfied], minlength=self.n))}

    def events(self) -> Iterator[dict[str, np.ndarray]]:
        """The timeline, in the order it was written (by instant), in chunks."""
        parts_at, parts_ticket, parts_kind, parts_unit, parts_data = [], [], [], [], []
        kinds = sorted({kind for kind, _, _ in self.slots} | {"supervision_order"})
        code = {kind: i for i, kind in enumerate(kinds)}
        answers = ["satisfied", "basically_satisfied", "unsatisfied"]
        data_texts = ["{}"] + [f'{{"answer": "{a}", "level": {lv}}}' for lv in (1, 2, 3) for a in answers]
        for i, (kind, at, _) in enumerate(self.slots):
            mask = self.seen(at)
            idx = np.flatnonzero(mask)
            parts_at.append(at[idx])
            parts_ticket.append(idx)
            parts_kind.append(np.full(idx.size, code[kind]))
            before_return = i <= 2
            parts_unit.append(np.where(before_return & self.returned[idx], self.first_unit[idx], self.unit_id[idx]))
            data = np.zeros(idx.size, dtype=np.int64)
            if kind == "follow_up_answered":
                level = {11: 0, 17: 1, 23: 2}[i]
                data = 1 + level * 3 + self.rounds[level][0]["answer"][idx]
            parts_data.append(data)
        orders = self.orders_table()
        parts_at.append(orders["_issued"])
        parts_ticket.append(orders["_ticket"])
        parts_kind.append(np.full(orders["_issued"].size, code["supervision_order"]))
        parts_unit.append(orders["_unit"])
        parts_data.append(np.zeros(orders["_issued"].size, dtype=np.int64))
        at = np.concatenate(parts_at)
        order = np.argsort(at, kind="stable")
        at = at[order]
        ticket = np.concatenate(parts_ticket)[order]
        kind_code = np.concatenate(parts_kind)[order]
        unit = np.concatenate(parts_unit)[order]
        data = np.concatenate(parts_data)[order]
        self.event_count = at.size
        kind_text = np.array(kinds, dtype=S)
        data_text = np.array(data_texts, dtype=S)
        chunk = 1_000_000
        for a in range(0, at.size, chunk):
            b = min(at.size, a + chunk)
            yield {"id": ints(np.arange(a + 1, b + 1)), "ticket_id": ints(ticket[a:b] + 1),
                   "kind": kind_text[kind_code[a:b]], "at": stamps(at[a:b]), "actor_id": np.full(b - a, NULL, dtype=S),
                   "actor": np.full(b - a, "system", dtype=S), "unit_id": ints(unit[a:b]),
                   "note": np.full(b - a, NULL, dtype=S), "data": data_text[data[a:b]]}

    @functools.cache  # noqa: B019 - one Year, kept for the run: tickets' facts and the COPY read it
    def follow_ups(self) -> dict[str, np.ndarray]:
        cols: dict[str, list[np.ndarray]] = {k: [] for k in ("ticket", "level", "method", "status", "asked",
                                                              "answered", "answer", "raw")}
        answers = np.array(["satisfied", "basically_satisfied", "unsatisfied"], dtype=S)
        for level, (r, applies) in enumerate(self.rounds, start=1):
            asked = np.where(applies & ~self.merged, r["asked"], np.nan)
            sms = np.flatnonzero(self.seen(asked))
            by_sms = r["by_sms"][sms]
            answered_now = self.seen(r["answered"][sms]) & by_sms
            no_answer = ~by_sms & self.seen(r["phone_asked"][sms])
            cols["ticket"].append(sms)
            cols["level"].append(np.full(sms.size, level))
            cols["method"].append(np.full(sms.size, "sms", dtype=S))
            cols["status"].append(np.where(answered_now, "answered", np.where(no_answer, "no_answer", "waiting"))
                                  .astype(S))
            cols["asked"].append(asked[sms])
            cols["answered"].append(np.where(answered_now, r["answered"][sms], np.nan))
            cols["answer"].append(np.where(answered_now, answers[r["answer"][sms]], NULL))
            cols["raw"].append(np.where(answered_now, (r["answer"][sms] + 1).astype(S), NULL))
            phone = sms[no_answer]
            done = self.seen(r["answered"][phone])
            cols["ticket"].append(phone)
            cols["level"].append(np.full(phone.size, level))
            cols["method"].append(np.full(phone.size, "phone", dtype=S))
            cols["status"].append(np.where(done, "answered", "waiting").astype(S))
            cols["asked"].append(r["phone_asked"][phone])
            cols["answered"].append(np.where(done, r["answered"][phone], np.nan))
            cols["answer"].append(np.where(done, answers[r["answer"][phone]], NULL))
            cols["raw"].append(np.full(phone.size, NULL, dtype=S))
        c = {k: np.concatenate(v) for k, v in cols.items()}
        order = np.argsort(c["asked"], kind="stable")
        c = {k: v[order] for k, v in c.items()}
        m = c["ticket"].size
        self.follow_up_count = m
        return {"id": ints(np.arange(1, m + 1)), "ticket_id": ints(c["ticket"] + 1), "level": ints(c["level"]),
                "method": c["method"], "status": c["status"], "asked_at": stamps(c["asked"]),
                "answered_at": stamps(c["answered"]), "answer": c["answer"], "raw_reply": c["raw"],
                "re_asked": np.full(m, "0", dtype=S)}

    def orders_table(self) -> dict[str, np.ndarray]:
        """督办单: overdue (the sweep, as a ticket held by its unit passes the resolve deadline; one per
        deadline) and 审核退回 (returned_unresolved). Answered when the unit reports, closed a day later."""
        if self._orders is not None:
            return self._orders
        issued, ticket, reason, answered = [], [], [], []
        for left, due in self.held_until:
            late = np.flatnonzero(~self.merged & self.seen(due) & ~np.isnan(left) & (left > due))
            issued.append(on_grid(due[late] + self.rng.uniform(0, 60, late.size)))
            ticket.append(late)
            reason.append(np.zeros(late.size, dtype=np.int64))
            answered.append(left[late] + self.lognormal(30 * M, 0.8, late.size))
        back = np.flatnonzero(self.seen(self.sb) & ~self.merged)
        issued.append(self.sb[back])
        ticket.append(back)
        reason.append(np.ones(back.size, dtype=np.int64))
        answered.append(self.rep1b[back] + self.lognormal(30 * M, 0.8, back.size))
        at = np.concatenate(issued)
        order = np.argsort(at, kind="stable")
        at, t, why, ans = at[order], np.concatenate(ticket)[order], np.concatenate(reason)[order], \
            np.concatenate(answered)[order]
        closed = ans + self.lognormal(20 * H, 0.7, at.size)
        m = at.size
        status = np.where(self.seen(closed), "closed", np.where(self.seen(ans), "answered", "open")).astype(S)
        local_day = ((at + OFFSET) // D).astype(np.int64)
        self.order_serials = _day_serials("DB", local_day)
        unit = self.unit_id[t]
        self._orders = {
            "id": ints(np.arange(1, m + 1)), "number": _numbers("DB", local_day),
            "ticket_id": ints(t + 1), "unit_id": ints(unit), "addressee_id": np.full(m, NULL, dtype=S),
            "reason": np.array(["overdue", "returned_unresolved"], dtype=S)[why],
            "issued_at": stamps(at), "issued_by": np.full(m, "system", dtype=S),
            "due_at": stamps(self.grid.add(at, 4.0)), "status": status,
            "answered_at": stamps(np.where(self.seen(ans), ans, np.nan)),
            "answer": np.where(self.seen(ans), "已办结，超期原因：警情较多，已整改。", NULL).astype(S),
            "note": np.where(why == 0, "已超过办理时限", "办理不到位").astype(S),
            "_issued": at, "_ticket": t, "_unit": unit,
        }
        return self._orders

    def letters(self) -> dict[str, np.ndarray]:
        """提醒函: each 不满意 (levels 1 and 2), repeated complaints (~0.8% of dispatches), leaders'
        instructions (a few)."""
        at, ticket, reason = [], [], []
        for slot in (13, 19):
            idx = np.flatnonzero(self.seen(self.slots[slot][1]))
            at.append(self.slots[slot][1][idx])
            ticket.append(idx)
            reason.append(np.zeros(idx.size, dtype=np.int64))
        repeated = np.flatnonzero(self.seen(self.disp) & self.chance(0.008))
        at.append(self.disp[repeated])
        ticket.append(repeated)
        reason.append(np.ones(repeated.size, dtype=np.int64))
        leader = np.flatnonzero(self.seen(self.disp) & self.chance(0.0003))
        at.append(self.disp[leader] + self.lognormal(2 * D, 0.5, leader.size))
        ticket.append(leader)
        reason.append(np.full(leader.size, 2, dtype=np.int64))
        a = np.concatenate(at)
        keep = a <= self.now
        order = np.argsort(a[keep], kind="stable")
        a, t, why = a[keep][order], np.concatenate(ticket)[keep][order], np.concatenate(reason)[keep][order]
        ack = a + self.lognormal(5 * H, 1.0, a.size)
        m = a.size
        local_day = ((a + OFFSET) // D).astype(np.int64)
        self.letter_serials = _day_serials("TX", local_day)
        texts = np.array(["群众回访不满意，请单位负责人督促落实，切实解决群众诉求。",
                          "同一诉求多次投诉，请专题研究，彻底解决。", "领导批示：请抓紧办理，及时反馈。"], dtype=S)
        return {"id": ints(np.arange(1, m + 1)), "number": _numbers("TX", local_day), "ticket_id": ints(t + 1),
                "unit_id": ints(self.current_unit[t]),
                "reason": np.array(["unsatisfied", "repeated", "leader_instruction"], dtype=S)[why],
                "issued_at": stamps(a), "issued_by": np.full(m, "system", dtype=S), "text": texts[why],
                "acknowledged_at": stamps(np.where(self.seen(ack), ack, np.nan))}

    def intake_records(self) -> dict[str, np.ndarray]:
        """One record per ticket, and 4% duplicates merged into it (received within hours)."""
        n = self.n
        dup = np.flatnonzero(self.chance(0.04))
        dup_at = self.rec[dup] + self.rng.exponential(3 * H, dup.size)
        keep = dup_at <= self.now
        dup, dup_at = dup[keep], dup_at[keep]
        ticket = np.concatenate([np.arange(n), dup])
        at = np.concatenate([self.rec, dup_at])
        merged = np.concatenate([np.zeros(n, dtype=bool), np.ones(dup.size, dtype=bool)])
        channel = np.concatenate([self.channel, self.pick(CHANNELS, dup.size)])
        order = np.argsort(at, kind="stable")
        ticket, at, merged, channel = ticket[order], at[order], merged[order], channel[order]
        m = at.size
        ids = np.arange(1, m + 1)
        return {"id": ints(ids), "channel": np.array(list(CHANNELS), dtype=S)[channel],
                "external_id": np.strings.add("EXT", np.strings.zfill(ids.astype(S), 10)),
                "ticket_id": ints(ticket + 1), "merged": np.where(merged, "t", "f").astype(S),
                "received_at": stamps(at), "payload": np.full(m, '{"source": "bench"}', dtype=S)}

    def alerts(self) -> dict[str, list[Any]]:
        """Early warnings: two surges and three recurring issues a week, the older ones closed."""
        import h3

        rows: dict[str, list[Any]] = {k: [] for k in (
            "id", "key", "kind", "topic", "area_kind", "area", "area_name", "lat", "lon", "unit_id", "day",
            "window_days", "count", "baseline", "threshold", "p_value", "reason", "ticket_ids", "status",
            "first_seen_at", "last_seen_at", "closed_at")}
        topics = list(TOPICS)
        weeks = int((self.now - self.rec[0]) // (7 * D))
        located = np.flatnonzero(~np.isnan(self.lat))
        serial = 0
        for w in range(weeks + 1):
            start = self.week_end - (w + 1) * 7 * D
            for j in range(5):
                i = int(located[int(self.rng.integers(located.size))])
                seen = start + float(self.rng.uniform(0, 6.5 * D))
                if seen > self.now:
                    continue
                last = min(self.now, seen + float(self.rng.uniform(1, 72)) * H)
                surge = j < 2
                serial += 1
                topic = topics[int(self.topic[i])]
                day = datetime.fromtimestamp(seen, TZ).date()
                district = str(self.district[i])
                cell = h3.latlng_to_cell(float(self.lat[i]), float(self.lon[i]), 9)
                count = int(self.rng.integers(8, 40))
                rows["id"].append(serial)
                rows["key"].append(f"{'surge' if surge else 'recurring'}:{topic}:{district if surge else cell}:{day}:{serial}")
                rows["kind"].append("surge" if surge else "recurring")
                rows["topic"].append(topic)
                rows["area_kind"].append("district" if surge else "cell")
                rows["area"].append(district if surge else cell)
                rows["area_name"].append(district if surge else f"{district}{self.place[i]}")
                rows["lat"].append(float(self.lat[i]))
                rows["lon"].append(float(self.lon[i]))
                rows["unit_id"].append(int(self.unit_id[i]))
                rows["day"].append(day.isoformat() if surge else None)
                rows["window_days"].append(None if surge else 7)
                rows["count"].append(count)
                rows["baseline"].append(round(count / 3.2, 2))
                rows["threshold"].append(int(count * 0.7))
                rows["p_value"].append(0.001)
                rows["reason"].append(f"{TOPICS[topic][1][0]}等诉求{count}件，明显多于平常")
                rows["ticket_ids"].append("[]")
                closed = last < self.now - 2 * D
                rows["status"].append("closed" if closed else "open")
                rows["first_seen_at"].append(seen)
                rows["last_seen_at"].append(last)
                rows["closed_at"].append(last + H if closed else None)
        return rows


SLA_CLASS_NAMES = ("consultation", "enforcement", "service")


def _day_serials(prefix: str, local_day: np.ndarray) -> dict[str, int]:
    days, counts = np.unique(local_day, return_counts=True)
    text = np.datetime_as_string((days * 86400).astype("datetime64[s]"), unit="D")
    return {f"{prefix}{d.replace('-', '')}": int(c) for d, c in zip(text, counts)}


def _numbers(prefix: str, local_day: np.ndarray) -> np.ndarray:
    """``prefix`` + local date + the serial of that day, for instants sorted in time."""
    serial = np.arange(local_day.size) - np.searchsorted(local_day, local_day, side="left") + 1
    day = np.strings.replace(np.datetime_as_string((local_day * 86400).astype("datetime64[s]"), unit="D")
                             .astype(S), "-", "")
    return np.strings.add(np.strings.add(prefix, day), np.strings.zfill(serial.astype(S), 6))


# ====================================================================== COPY
def ints(values: np.ndarray) -> np.ndarray:
    return np.asarray(values).astype(np.int64).astype(S)


def floats(values: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(values), NULL, np.round(np.nan_to_num(values), 6).astype(S))


def stamps(values: np.ndarray) -> np.ndarray:
    """Seconds since the epoch (NaN: none) as timestamps for COPY (``2026-11-23T01:00:00``: UTC, the
    loading session's zone). Variable-width strings: 10,000,000 rows of fixed-width ``U19`` would
    take 760 MB a column."""
    ok = ~np.isnan(values)
    return np.where(ok, np.where(ok, values, 0).astype(np.int64).astype("datetime64[s]").astype(S), NULL)


def copy_in(conn: Any, table: str, columns: dict[str, np.ndarray], chunk: int = 250_000) -> int:
    """COPY ``columns`` (text arrays, ``\\N`` for null) into ``table``; the rows written."""
    names = [c for c in columns if not c.startswith("_")]
    n = len(columns[names[0]])
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
        for a in range(0, n, chunk):
            fields = [columns[name][a:a + chunk].tolist() for name in names]
            copy.write(("\n".join(["\t".join(row) for row in zip(*fields)]) + "\n").encode())
    return n


def load(url: str, n: int, week: str, seed: int) -> dict[str, Any]:
    """Migrate, load the bureau and write the year; what was written and how long each part took."""
    import psycopg

    from tickets.bootstrap import session_factory
    from tickets.models import Unit
    from tickets.schema import upgrade
    from tickets.units import load_bureau
    from tickets.uow import unit_of_work

    out: dict[str, Any] = {}
    started = time.perf_counter()
    upgrade(url)
    factory = session_factory(url)
    with unit_of_work(factory) as s:
        load_bureau(s, ROOT / "examples" / "jinan_bureau.yaml")
    with factory() as s:
        units = [{"id": u.id, "code": u.code, "name": u.name, "level": u.level, "kind": u.kind,
                  "parent_id": u.parent_id, "district": u.district, "lat": u.lat, "lon": u.lon, "topics": u.topics}
                 for u in s.query(Unit).order_by(Unit.id)]
    year = Year(n, week, seed, units)
    year.build()
    out["generate_s"] = time.perf_counter() - started
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    counts: dict[str, int] = {}
    with psycopg.connect(conninfo, autocommit=True) as conn, conn.transaction():
        conn.execute("SET statement_timeout = 0")
        conn.execute("SET TIME ZONE 'UTC'")  # the zone of every timestamp written (``stamps``)
        # Foreign keys are not checked row by row while loading (their triggers would cost more than the
        # COPY itself); every id written is one this loader made. Checked as a whole afterwards.
        conn.execute("SET session_replication_role = replica")
        conn.execute("SET maintenance_work_mem = '512MB'")
        # The secondary indexes are built once after the rows are in (faster than row by row), from
        # their own definitions: the schema ends exactly as the migrations made it.
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY(%s) "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)", [list(LOADED)]).fetchall()
        for name, _definition in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        t = time.perf_counter()
        copied: dict[str, float] = {}

        def timed(table: str, rows: Callable[[], int]) -> None:
            at = time.perf_counter()
            counts[table] = rows()
            copied[table] = round(time.perf_counter() - at, 1)

        timed("tickets", lambda: copy_in(conn, "tickets", year.tickets()))
        timed("intake_records", lambda: copy_in(conn, "intake_records", year.intake_records()))
        timed("ticket_events", lambda: sum(copy_in(conn, "ticket_events", chunk) for chunk in year.events()))
        timed("follow_ups", lambda: copy_in(conn, "follow_ups", year.follow_ups()))
        timed("supervision_orders", lambda: copy_in(conn, "supervision_orders", year.orders_table()))
        timed("reminder_letters", lambda: copy_in(conn, "reminder_letters", year.letters()))
        alerts = year.alerts()
        with conn.cursor() as cur:
            names = list(alerts)
            rows = list(zip(*(alerts[k] for k in names)))
            cur.executemany(
                f"INSERT INTO alerts ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})",
                [tuple(datetime.fromtimestamp(v, timezone.utc) if k in ("first_seen_at", "last_seen_at", "closed_at")
                       and v is not None else v for k, v in zip(names, row)) for row in rows])
            counts["alerts"] = len(rows)
            serials = {**year.serials, **year.order_serials, **year.letter_serials}
            cur.executemany("INSERT INTO serials (key, last) VALUES (%s, %s)", list(serials.items()))
            for table in LOADED:
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT coalesce(max(id), 1) FROM {table}))")
        out["copy_s"] = time.perf_counter() - t
        out["copy_by_table_s"] = copied
        t = time.perf_counter()
        for _name, definition in indexes:
            conn.execute(definition)
        out["indexes_s"] = time.perf_counter() - t
    with psycopg.connect(conninfo, autocommit=True) as conn:  # one transaction above: all or nothing
        t = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        out["analyze_s"] = time.perf_counter() - t
        t = time.perf_counter()
        check_references(conn)
        out["references_checked_s"] = time.perf_counter() - t
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        out["database_bytes"] = size[0] if size else 0
    out["rows"] = counts
    out["load_s"] = time.perf_counter() - started
    check_deadlines(year)
    return out


LOADED = ("tickets", "intake_records", "ticket_events", "follow_ups", "supervision_orders", "reminder_letters",
          "alerts")


def check_references(conn: Any) -> None:
    """Every foreign key of the loaded tables holds (they were not checked while loading)."""
    keys = conn.execute(
        "SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text, f.attname "
        "FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
        "JOIN pg_attribute f ON f.attrelid = c.confrelid AND f.attnum = c.confkey[1] "
        "WHERE c.contype = 'f' AND c.conrelid::regclass::text = ANY(%s)", [list(LOADED)]).fetchall()
    for table, column, target, key in keys:
        broken = conn.execute(
            f"SELECT count(*) FROM {table} t WHERE t.{column} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {target} r WHERE r.{key} = t.{column})").fetchone()[0]
        if broken:
            raise AssertionError(f"{broken} rows of {table}.{column} name no {target}.{key}")


def check_deadlines(year: Year, sample: int = 500) -> None:
    """The grid's deadlines are the SLA module's own, on a sample."""
    from tickets import sla

    rng = np.random.default_rng(1)
    for i in rng.choice(year.n, size=min(sample, year.n), replace=False):
        at = datetime.fromtimestamp(year.disp[i], timezone.utc)
        plan = sla.schedule(SLA_CLASS_NAMES[year.sla_class[i]], at, TZ)
        got = (year.deadlines["resolve_due"][i], year.deadlines["resolve_warn"][i])
        if (plan.resolve_due.timestamp(), plan.resolve_warn.timestamp()) != got:
            raise AssertionError(f"deadline of ticket {i + 1}: grid {got}, sla {plan.resolve_due, plan.resolve_warn}")


# ====================================================================== measuring
class Parts:
    """Time spent in each of compute's parts (the module's functions wrapped while measuring)."""

    NAMES = ("Tree", "tally_sql_by_unit", "sub_tally_sql_by_unit", "exceptions", "latest", "last_week_outcome",
             "split", "hotspots")

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def __enter__(self) -> Parts:
        from tickets import bulletin

        self.saved = {name: getattr(bulletin, name) for name in self.NAMES}
        for name, original in self.saved.items():
            setattr(bulletin, name, self._timed(name, original))
        return self

    def __exit__(self, *exc: Any) -> None:
        from tickets import bulletin

        for name, original in self.saved.items():
            setattr(bulletin, name, original)

    def _timed(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t
                self.calls[name] = self.calls.get(name, 0) + 1

        return timed


def spread(values: list[float]) -> dict[str, Any]:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3), "runs": [round(v, 3) for v in values]}


def measure(url: str, week: str, runs: int, pdf_runs: int, parts: bool, full_pdf: bool) -> dict[str, Any]:
    from pypdf import PdfReader
    from sqlalchemy import text

    import app
    from dashboard.documents import bulletin as bulletin_pdf
    from dashboard.documents import bulletin_xlsx
    from tickets import bulletin, services
    from tickets.bootstrap import session_factory
    from tickets.roles import SYSTEM
    from tickets.uow import unit_of_work

    app.tune_gc(freeze=True)  # the collector as in the platform's process (``app.py run``), which renders the PDF
    factory = session_factory(url)
    _, _, _start, end = bulletin.week_bounds(week, TZ)
    now = end + timedelta(hours=7)
    previous = bulletin.shift(week, -1)
    out: dict[str, Any] = {"week": week, "as_of": now.isoformat()}
    with unit_of_work(factory) as s:
        if bulletin.latest(s, previous) is None:
            t = time.perf_counter()
            services.make_bulletin(s, SYSTEM, previous, now=bulletin.week_bounds(previous, TZ)[3] + timedelta(hours=7))
            out["previous_week_made_s"] = round(time.perf_counter() - t, 3)
    with factory() as s:
        rules = s.config.bulletin
        from tickets import sla

        policy_version = sla.current_policy().version
        times, cpu, part_runs = [], [], []
        content: dict[str, Any] = {}
        for _ in range(runs):
            s.rollback()
            with Parts() as p:
                t, c = time.perf_counter(), time.process_time()
                content = bulletin.compute(s, week, now, TZ, rules, policy_version=policy_version, provisional=False,
                                           version=1)
                times.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
            part_runs.append(p.seconds)
            print(f"  compute {times[-1]:.2f} s", flush=True)
        bureau = s.scalar(text("SELECT name FROM units WHERE parent_id IS NULL"))
    out["compute_s"] = spread(times)
    out["compute_cpu_s"] = spread(cpu)  # this process's (Python's) share; PostgreSQL's is apart
    if parts:
        out["compute_parts_s"] = {name: round(statistics.median(r.get(name, 0.0) for r in part_runs), 3)
                                  for name in Parts.NAMES}
    encoded = json.dumps(content, ensure_ascii=False).encode()
    ex = content["exceptions"]
    out["content"] = {
        "json_bytes": len(encoded), "units": len(content["units"]), "received": content["bureau"]["received"],
        "exceptions": {name: len(ex[name]) for name in bulletin.EXCEPTION_LISTS + ("below_satisfaction",)},
        "last_week_items": len(ex["last_week"]["items"]), "hotspot_cells": len(content["hotspots"]["cells"]),
        "alerts": len(content["hotspots"]["alerts"]),
    }
    out["content"]["exception_rows"] = sum(out["content"]["exceptions"].values()) + out["content"]["last_week_items"]
    out["figures"] = {k: content["bureau"][k] for k in (
        "received", "response_rate", "completion_rate", "on_time_rate", "satisfaction_rate", "acceptance_rate",
        "return_rate", "redo_rate", "composite_score", "breaches_now", "handling_hours_median")}
    if not pdf_runs:
        return out
    times, cpu, pdf = [], [], b""
    for _ in range(pdf_runs):
        t, c = time.perf_counter(), time.process_time()
        pdf = bulletin_pdf.pdf(content, bureau or "")
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        print(f"  pdf {times[-1]:.2f} s", flush=True)
    out["pdf_s"] = spread(times)
    out["pdf_cpu_s"] = spread(cpu)  # all of it in this process: the render's own cost, whatever else runs
    out["pdf"] = {"pages": len(PdfReader(io.BytesIO(pdf)).pages), "bytes": len(pdf),
                  "rows_per_list": bulletin_pdf.PRINTED_ROWS}
    if full_pdf:  # every row of every list, as the PDF was before it cut long lists
        t = time.perf_counter()
        uncut = bulletin_pdf.pdf(content, bureau or "", rows=None)
        out["pdf_uncut"] = {"seconds": round(time.perf_counter() - t, 3),
                            "pages": len(PdfReader(io.BytesIO(uncut)).pages), "bytes": len(uncut)}
        print(f"  pdf, every row: {out['pdf_uncut']['seconds']:.2f} s", flush=True)
    times, book = [], b""
    for _ in range(runs):
        t = time.perf_counter()
        book = bulletin_xlsx.xlsx(content)
        times.append(time.perf_counter() - t)
    out["xlsx_s"] = spread(times)
    out["xlsx"] = {"bytes": len(book)}
    return out


def table(result: dict[str, Any]) -> str:
    def ms(x: dict[str, Any]) -> str:
        return f"{x['median']:.2f} s (min {x['min']:.2f}, max {x['max']:.2f}; {len(x['runs'])} runs)"

    lines = [f"week {result['week']} as of {result['as_of']}"]
    if "load" in result:
        ld = result["load"]
        rows = ", ".join(f"{k} {v:,}" for k, v in ld["rows"].items())
        lines.append(f"load       {ld['load_s']:.1f} s (lives {ld['generate_s']:.1f}, rows and COPY {ld['copy_s']:.1f}, "
                     f"indexes {ld['indexes_s']:.1f}, VACUUM ANALYZE {ld['analyze_s']:.1f}, foreign keys checked "
                     f"{ld['references_checked_s']:.1f}); {ld['database_bytes'] / 2**30:.2f} GiB: {rows}")
    if "previous_week_made_s" in result:
        lines.append(f"previous week frozen first (cold): {result['previous_week_made_s']:.2f} s")
    lines.append(f"compute    {ms(result['compute_s'])}   target ≤ 30 s; Python's CPU "
                 f"{result['compute_cpu_s']['median']:.2f} s")
    for name, seconds in (result.get("compute_parts_s") or {}).items():
        lines.append(f"   {name:24} {seconds:7.3f} s")
    c = result["content"]
    lines.append(f"content    {c['json_bytes']:,} bytes of JSON; {c['units']} unit sections; {c['received']:,} "
                 f"tickets received in the week; {c['exception_rows']:,} exception rows: "
                 + ", ".join(f"{k} {v:,}" for k, v in c["exceptions"].items())
                 + f", last week's {c['last_week_items']:,}; {c['hotspot_cells']} hotspot cells, {c['alerts']} alerts")
    f = result["figures"]
    lines.append("figures    " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in f.items()))
    if "pdf_s" not in result:
        return "\n".join(lines)
    lines.append(f"PDF        {ms(result['pdf_s'])}   target ≤ 10 s; {result['pdf']['pages']} pages, "
                 f"{result['pdf']['bytes']:,} bytes (at most {result['pdf']['rows_per_list']} rows of each list); "
                 f"CPU {result['pdf_cpu_s']['median']:.2f} s")
    if "pdf_uncut" in result:
        u = result["pdf_uncut"]
        lines.append(f"PDF uncut  {u['seconds']:.2f} s; {u['pages']} pages, {u['bytes']:,} bytes (every row)")
    lines.append(f"XLSX       {ms(result['xlsx_s'])}; {result['xlsx']['bytes']:,} bytes")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--week", default="2026-W48", help="the bulletin's ISO week (the year before it is loaded)")
    parser.add_argument("--runs", type=int, default=3, help="computes and spreadsheets")
    parser.add_argument("--pdf-runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--parts", action="store_true", help="time each part of compute")
    parser.add_argument("--full-pdf", action="store_true", help="render the PDF once more with every row of every list")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    parser.add_argument("--database-url", help="use this PostgreSQL database (loaded first if it has no tickets)")
    args = parser.parse_args(argv)
    from tests.servers import PostgresServer

    server = None
    try:
        if args.database_url:
            url = args.database_url
        else:
            server = PostgresServer().start()
            url = server.create_database("bench_bulletin")
        result: dict[str, Any] = {"tickets": args.tickets}
        from sqlalchemy import create_engine, inspect, text

        engine = create_engine(url)
        with engine.connect() as c:
            loaded = inspect(c).has_table("tickets") and c.execute(text("SELECT count(*) FROM tickets")).scalar()
        engine.dispose()
        if not loaded:
            print(f"loading {args.tickets:,} tickets …", flush=True)
            result["load"] = load(url, args.tickets, args.week, args.seed)
            print(f"  loaded in {result['load']['load_s']:.1f} s", flush=True)
        else:
            result["tickets"] = loaded
        result.update(measure(url, args.week, args.runs, args.pdf_runs, args.parts, args.full_pdf))
        print(table(result))
        if args.json:
            print(json.dumps(result, ensure_ascii=False, indent=2))
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
