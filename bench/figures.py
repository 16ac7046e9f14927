"""Benchmark: the figures API (``GET /api/v1/figures``, ``/api/v1/figures/units``) over a year of tickets.

Loads a throwaway PostgreSQL with ``bench/bulletin.py``'s loader (1,000,000 tickets over the 53
weeks up to Monday 2026-11-30 07:00 by default: the same realistic year), or uses
``--database-url`` (loaded first if it has no tickets). Then, through the Flask test client of an
in-process platform (``dashboard.create_platform``, live counters off) with "now" fixed at the
make time (``dashboard.api.figures.utcnow`` patched, as the tests do), it times a day, a week, a
month (30 days) and a year (365 days) ending the day before "now" of

- ``/api/v1/figures`` city-wide,
- ``/api/v1/figures?unit=JN-LX`` (one branch's subtree),
- ``/api/v1/figures/units?level=3`` (every station ranked),

each ``--runs`` times (p50, p95, max). For comparison it exports the ticket columns the figures
need (and the intake records, follow-ups, return events) once from PostgreSQL to Parquet (the
export timed apart) and times DuckDB computing the same counts for the same periods and scopes;
the counts must equal the API's (received, due, closed, closed_on_time, response_due, …,
breaches_now and the sub-rates' counts) or the bench stops. DuckDB does not compute the handling
hours (working time on the official calendar is Python: ``tickets.sla.working_hours_between``);
the API does, so ``--parts`` also times the API's queries one by one.

    python bench/figures.py                      # 1,000,000 tickets on PostgreSQL
    python bench/figures.py --tickets 100000     # a quick look
    python bench/figures.py --database-url URL --runs 7 --parts --json

Targets (issue 15): on PostgreSQL over 1,000,000 tickets a month's figures and units p95
≤ 200 ms and within 2× of DuckDB, a year's ≤ 1 s; on SQLite over 100,000 tickets p95 ≤ 300 ms
(``--sqlite``: the same year written by executemany, the tables the figures read only).
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bulletin as loader  # noqa: E402  (bench/bulletin.py: the year's loader)

TZ = loader.TZ
BRANCH = "JN-LX"
PERIODS = {"day": 1, "week": 7, "month": 30, "year": 365}
SATISFIED = ("satisfied", "basically_satisfied")


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def spread(values: list[float]) -> dict[str, Any]:
    ms = [v * 1000 for v in values]
    return {"p50_ms": round(statistics.median(ms), 1), "p95_ms": round(p95(ms), 1), "max_ms": round(max(ms), 1),
            "runs": len(ms)}


def periods(now: datetime) -> dict[str, tuple[date, date]]:
    last = now.astimezone(TZ).date() - timedelta(days=1)
    return {name: (last - timedelta(days=days - 1), last) for name, days in PERIODS.items()}


def make_time(week: str) -> datetime:
    from tickets.bulletin import week_bounds

    return week_bounds(week, TZ)[3] + timedelta(hours=7)


# ------------------------------------------------------------------ SQLite
SQLITE_TABLES = ("tickets", "intake_records", "ticket_events", "follow_ups")  # what the figures read


def load_sqlite(url: str, n: int, week: str, seed: int) -> dict[str, Any]:
    """bench/bulletin.py's year (its ``Year``: the same columns it COPYs into PostgreSQL) into SQLite by
    executemany: the tickets, intake records, timeline and follow-ups (the figures read no other table;
    supervision orders, letters and warnings are not loaded). Values are converted to what the
    platform's types store on SQLite (``UTCDateTime``: ``YYYY-MM-DD HH:MM:SS.000000`` in UTC)."""
    import sqlite3

    from sqlalchemy import Boolean, DateTime, Float, Integer

    from tickets.bootstrap import session_factory
    from tickets.models import Base, Unit
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
    year = loader.Year(n, week, seed, units)
    year.build()
    out["generate_s"] = round(time.perf_counter() - started, 1)

    def converter(kind: Any) -> Any:
        if isinstance(kind, DateTime) or isinstance(getattr(kind, "impl", None), DateTime):
            return lambda v: None if v == loader.NULL else v.replace("T", " ") + ".000000"
        if isinstance(kind, Boolean):
            return lambda v: None if v == loader.NULL else int(v == "t")
        if isinstance(kind, Integer):
            return lambda v: None if v == loader.NULL else int(v)
        if isinstance(kind, Float):
            return lambda v: None if v == loader.NULL else float(v)
        return lambda v: None if v == loader.NULL else v

    db = sqlite3.connect(url.removeprefix("sqlite:///"))
    db.execute("PRAGMA foreign_keys = OFF")
    counts: dict[str, int] = {}
    t = time.perf_counter()
    sources = {"tickets": lambda: [year.tickets()], "intake_records": lambda: [year.intake_records()],
               "ticket_events": year.events, "follow_ups": lambda: [year.follow_ups()]}
    for table in SQLITE_TABLES:
        columns = Base.metadata.tables[table].columns
        counts[table] = 0
        for chunk in sources[table]():
            names = [c for c in chunk if not c.startswith("_")]
            convert = [converter(columns[c].type) for c in names]
            rows = zip(*(chunk[c].tolist() for c in names))
            db.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                           ([f(v) for f, v in zip(convert, row)] for row in rows))
            counts[table] += len(chunk[names[0]])
    db.commit()
    out["insert_s"] = round(time.perf_counter() - t, 1)
    db.execute("ANALYZE")
    db.close()
    out["rows"] = counts
    out["load_s"] = round(time.perf_counter() - started, 1)
    return out


# ------------------------------------------------------------------ the API
def start_platform(url: str) -> tuple[Any, dict[str, str]]:
    """The in-process platform on the loaded database and a city-wide caller's header."""
    import settings as settings_module
    from dashboard import create_platform
    from tickets import accounts
    from tickets.models import User
    from tickets.uow import unit_of_work

    cfg = settings_module.load(environ={}, database_url=url, demo_accounts_file="none")
    platform = create_platform(cfg, live=False)
    with unit_of_work(platform.factory) as s:
        user = s.query(User).filter_by(username="bench-figures").one_or_none()
        if user is None:
            user = accounts.create_user(s, "bench-figures", "基准测试", None, "JN-PTB", "admin", "bench-figures-2026")
        token = accounts.issue_token(s, "api", user, label="bench/figures.py")
    return platform, {"Authorization": f"Bearer {token}"}


def build_rollups(platform: Any, now: datetime) -> dict[str, Any]:
    """The housekeeping sweep that fills missing handling hours and builds the figures' rows
    (``tickets.rollups.ensure``: what the platform's first start after migration 0016 does), timed."""
    from tickets import rollups
    from tickets.uow import unit_of_work

    started = time.perf_counter()
    with unit_of_work(platform.factory) as s:
        done = rollups.ensure(s, now)
    out = {**done, "seconds": round(time.perf_counter() - started, 1)}
    if done:  # what autovacuum does soon after: the statistics and visibility of the rows just written
        started = time.perf_counter()
        with platform.factory.kw["bind"].connect() as c:
            c.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE tickets, figure_days")
        out["vacuum_analyze_seconds"] = round(time.perf_counter() - started, 1)
    return out


def api_calls(now: datetime) -> dict[str, str]:
    calls = {}
    for name, (first, last) in periods(now).items():
        q = f"from={first}&to={last}"
        calls[f"{name} city"] = f"/api/v1/figures?{q}"
        calls[f"{name} {BRANCH}"] = f"/api/v1/figures?{q}&unit={BRANCH}"
        calls[f"{name} units"] = f"/api/v1/figures/units?{q}&level=3"
    return calls


def measure_api(platform: Any, headers: dict[str, str], now: datetime, runs: int) -> tuple[dict[str, Any], dict[str, Any]]:
    import dashboard.api.figures as api_figures

    client = platform.server.test_client()
    real_now = api_figures.utcnow
    api_figures.utcnow = lambda: now
    timings: dict[str, Any] = {}
    bodies: dict[str, Any] = {}
    try:
        for name, path in api_calls(now).items():
            times = []
            for _ in range(runs + 1):  # the first is a warm-up, not counted
                t = time.perf_counter()
                response = client.get(path, headers=headers)
                times.append(time.perf_counter() - t)
                if response.status_code != 200:
                    raise SystemExit(f"{path}: {response.status_code} {response.get_data(as_text=True)[:300]}")
            bodies[name] = response.json
            timings[name] = spread(times[1:])
            print(f"  {name:<14} p50 {timings[name]['p50_ms']:8.1f} ms  p95 {timings[name]['p95_ms']:8.1f} ms",
                  flush=True)
    finally:
        api_figures.utcnow = real_now
    return timings, bodies


def measure_parts(url: str, now: datetime, runs: int) -> dict[str, Any]:
    """The API's queries one by one (city-wide), per period: where the time goes."""
    from tickets.bootstrap import session_factory
    from tickets.figures import period_bounds, sub_tally_sql_by_unit, tally_sql_by_unit

    factory = session_factory(url)
    out: dict[str, Any] = {}
    with factory() as s:
        for name, (first, last) in periods(now).items():
            start, end = period_bounds(first, last, TZ)
            parts = {
                "counts (3 queries)": lambda: tally_sql_by_unit(s, start, end, now, TZ, handling_hours=False,
                                                               breaches=False),
                "counts + handling hours": lambda: tally_sql_by_unit(s, start, end, now, TZ, breaches=False),
                "counts + breaches now": lambda: tally_sql_by_unit(s, start, end, now, TZ, handling_hours=False),
                "sub-rates": lambda: sub_tally_sql_by_unit(s, start, end, now),
            }
            out[name] = {}
            for part, call in parts.items():
                times = []
                for _ in range(runs):
                    s.rollback()
                    t = time.perf_counter()
                    call()
                    times.append(time.perf_counter() - t)
                out[name][part] = spread(times)
    return out


# ------------------------------------------------------------------ DuckDB
EXPORTS = {
    "tickets": "SELECT id, unit_id, status, direct_dispatch, redo_count, "
               + ", ".join(f"extract(epoch FROM {c})::float8 AS {c}" for c in (
                   "received_at", "dispatched_at", "contact_due_at", "contacted_at", "accepted_at", "resolve_due_at",
                   "closed_at", "replied_at")) + " FROM tickets",
    "intake_records": "SELECT ticket_id, extract(epoch FROM received_at)::float8 AS received_at, merged "
                      "FROM intake_records",
    "follow_ups": "SELECT ticket_id, status, answer FROM follow_ups",
    "returns": "SELECT DISTINCT ticket_id FROM ticket_events WHERE kind = 'return'",
}


def export(url: str, where: Path) -> dict[str, Any]:
    """The columns the figures need, from PostgreSQL to Parquet (psycopg COPY → CSV → DuckDB → Parquet)."""
    import duckdb
    import psycopg

    out: dict[str, Any] = {}
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    t0 = time.perf_counter()
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        for table, query in EXPORTS.items():
            csv = where / f"{table}.csv"
            with csv.open("wb") as f, cur.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER)") as copy:
                for data in copy:
                    f.write(data)
    out["copy_out_s"] = round(time.perf_counter() - t0, 2)
    t = time.perf_counter()
    db = duckdb.connect()
    for table in EXPORTS:
        db.execute(f"COPY (SELECT * FROM read_csv('{where / table}.csv', header = true)) "
                   f"TO '{where / table}.parquet' (FORMAT parquet)")
        (where / f"{table}.csv").unlink()
    db.close()
    out["to_parquet_s"] = round(time.perf_counter() - t, 2)
    out["export_s"] = round(time.perf_counter() - t0, 2)
    out["parquet_bytes"] = sum((where / f"{table}.parquet").stat().st_size for table in EXPORTS)
    return out


DUCK_TALLY = """
WITH t AS (SELECT * FROM tickets WHERE received_at >= $s AND received_at < $e AND status <> 'merged' {scope})
SELECT unit_id, count(*) AS received,
  count(*) FILTER (WHERE dispatched_at IS NOT NULL) AS dispatched,
  count(*) FILTER (WHERE direct_dispatch) AS direct,
  count(*) FILTER (WHERE contact_due_at IS NOT NULL AND (contacted_at IS NOT NULL OR contact_due_at <= $n))
    AS response_due,
  count(*) FILTER (WHERE contacted_at IS NOT NULL AND contacted_at <= contact_due_at) AS responded_on_time,
  count(*) FILTER (WHERE status = 'closed' OR resolve_due_at <= $n) AS due,
  count(*) FILTER (WHERE status = 'closed') AS closed,
  count(*) FILTER (WHERE status = 'closed' AND closed_at <= resolve_due_at) AS closed_on_time,
  count(*) FILTER (WHERE contact_due_at IS NOT NULL AND (accepted_at IS NOT NULL OR contact_due_at <= $n))
    AS accept_due,
  count(*) FILTER (WHERE accepted_at IS NOT NULL AND accepted_at <= contact_due_at) AS accepted_on_time,
  count(*) FILTER (WHERE dispatched_at IS NOT NULL AND id IN (SELECT ticket_id FROM returns)) AS returned,
  count(*) FILTER (WHERE replied_at IS NOT NULL) AS replied,
  count(*) FILTER (WHERE replied_at IS NOT NULL AND redo_count > 0) AS redone
FROM t GROUP BY unit_id
"""
DUCK_INTAKE = """
SELECT t.unit_id, count(*) AS intake_records, count(*) FILTER (WHERE i.merged) AS merged_records
FROM intake_records i JOIN tickets t ON t.id = i.ticket_id
WHERE i.received_at >= $s AND i.received_at < $e {scope} GROUP BY t.unit_id
"""
DUCK_FOLLOW_UPS = """
SELECT t.unit_id, count(*) AS follow_ups_answered,
  count(*) FILTER (WHERE f.answer IN ('satisfied', 'basically_satisfied')) AS follow_ups_satisfied
FROM follow_ups f JOIN tickets t ON t.id = f.ticket_id
WHERE t.received_at >= $s AND t.received_at < $e AND t.status <> 'merged' AND f.status = 'answered'
  AND f.answer IS NOT NULL {scope} GROUP BY t.unit_id
"""
DUCK_BREACHES = """
SELECT unit_id, count(*) AS breaches_now FROM tickets
WHERE status NOT IN ('closed', 'merged') {scope}
  AND ((contacted_at IS NULL AND contact_due_at <= $n) OR resolve_due_at <= $n) GROUP BY unit_id
"""


def duck_counts(db: Any, start: float, end: float, now: float, scope: list[int] | None) -> dict[int | None, dict[str, int]]:
    """Every unit's own counts (as ``tally_sql_by_unit`` and ``sub_tally_sql_by_unit``)."""
    by_unit: dict[int | None, dict[str, int]] = {}
    params = {"s": start, "e": end, "n": now}
    where = f"AND unit_id IN ({', '.join(map(str, scope))})" if scope is not None else ""
    where_t = where.replace("unit_id", "t.unit_id")
    for query, scoped, names in ((DUCK_TALLY, where, None), (DUCK_INTAKE, where_t, None),
                                 (DUCK_FOLLOW_UPS, where_t, None), (DUCK_BREACHES, where, None)):
        sql = query.format(scope=scoped)
        used = {k: v for k, v in params.items() if f"${k}" in sql}
        cur = db.execute(sql, used)
        names = [d[0] for d in cur.description]
        for row in cur.fetchall():
            by_unit.setdefault(row[0], {}).update(dict(zip(names[1:], row[1:])))
    return by_unit


def duck_sum(by_unit: dict[int | None, dict[str, int]], units: Any = None) -> dict[str, int]:
    total: dict[str, int] = {}
    for unit_id, counts in by_unit.items():
        if units is None or unit_id in units:
            for k, v in counts.items():
                total[k] = total.get(k, 0) + int(v)
    return total


def measure_duckdb(where: Path, url: str, now: datetime, runs: int, bodies: dict[str, Any]) -> dict[str, Any]:
    import duckdb
    from sqlalchemy import select

    from tickets.bootstrap import session_factory
    from tickets.figures import period_bounds
    from tickets.models import Unit
    from tickets.roles import subtree_of

    with session_factory(url)() as s:
        every = s.scalars(select(Unit).order_by(Unit.code)).all()
        tree = [(u.id, u.parent_id) for u in every]
        branch = next(u.id for u in every if u.code == BRANCH)
        stations = [(u.code, subtree_of(tree, u.id)) for u in every if u.level == 3]
    scope = sorted(subtree_of(tree, branch))
    db = duckdb.connect()
    db.execute("SET threads = 2")
    for table in EXPORTS:
        db.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{where / table}.parquet')")
    timings: dict[str, Any] = {}
    mismatches: list[str] = []
    for name, (first, last) in periods(now).items():
        start, end = (b.timestamp() for b in period_bounds(first, last, TZ))
        for kind, unit_scope in (("city", None), (BRANCH, scope), ("units", None)):
            times = []
            result: dict[int | None, dict[str, int]] = {}
            for _ in range(runs + 1):
                t = time.perf_counter()
                result = duck_counts(db, start, end, now.timestamp(), unit_scope)
                times.append(time.perf_counter() - t)
            key = f"{name} {kind}"
            timings[key] = spread(times[1:])
            body = bodies[key]
            if kind == "units":
                wanted = {row["unit"]: row for row in body["units"]}
                for code, below in stations:
                    mismatches += compare(f"{key} {code}", duck_sum(result, below), wanted[code])
            else:
                mismatches += compare(key, duck_sum(result), body)
    db.close()
    if mismatches:
        raise SystemExit("DuckDB's counts differ from the API's:\n  " + "\n  ".join(mismatches[:20]))
    return timings


def compare(key: str, duck: dict[str, int], body: dict[str, Any]) -> list[str]:
    api = dict(body["counts"], breaches_now=body["breaches_now"])
    duck = dict(duck, sub_dispatched=duck.get("dispatched", 0))  # one count in DuckDB, both in the API
    return [f"{key}: {k} API {v} DuckDB {duck.get(k, 0)}" for k, v in api.items() if duck.get(k, 0) != v]


# ------------------------------------------------------------------ report
def table(result: dict[str, Any]) -> str:
    api, duck = result["api"], result.get("duckdb", {})
    lines = [f"figures API over {result['tickets']:,} tickets, now {result['now']} "
             f"(load average {result['load_average']})", "",
             "| call | received | API p50 ms | API p95 ms | DuckDB p50 ms | DuckDB p95 ms | API p95 / DuckDB p95 |",
             "|---|---|---|---|---|---|---|"]
    for key, a in api.items():
        d = duck.get(key)
        ratio = f"{a['p95_ms'] / d['p95_ms']:.1f}×" if d and d["p95_ms"] else ""
        lines.append(f"| {key} | {result['received'].get(key, '')} | {a['p50_ms']} | {a['p95_ms']} | {d['p50_ms'] if d else ''} | "
                     f"{d['p95_ms'] if d else ''} | {ratio} |")
    if "export" in result:
        e = result["export"]
        lines += ["", f"export to Parquet (not in DuckDB's times): {e['export_s']} s "
                      f"(COPY out {e['copy_out_s']} s, to Parquet {e['to_parquet_s']} s), {e['parquet_bytes']:,} bytes"]
    for period, parts in result.get("parts", {}).items():
        lines.append(f"{period}: " + ", ".join(f"{p} {v['p50_ms']} ms" for p, v in parts.items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import os

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--week", default="2026-W48", help="the loaded year ends with this ISO week; now is "
                                                           "the Monday after, 07:00")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each call (after one warm-up)")
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--parts", action="store_true", help="time the API's queries one by one")
    parser.add_argument("--no-duckdb", action="store_true", help="skip the export and DuckDB")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    parser.add_argument("--database-url", help="use this PostgreSQL database (loaded first if it has no tickets)")
    parser.add_argument("--sqlite", action="store_true", help="SQLite (100,000 tickets unless --tickets; "
                                                              "--database-url sqlite:///FILE to keep it)")
    args = parser.parse_args(argv)
    from sqlalchemy import create_engine, inspect, text

    from tests.servers import PostgresServer

    server = None
    platform = None
    scratch: str | None = None
    try:
        if args.sqlite:
            if not args.database_url:
                scratch = tempfile.mkdtemp(prefix="bench-figures-")
            url = args.database_url or f"sqlite:///{scratch}/figures.db"
            if args.tickets == 1_000_000:
                args.tickets = 100_000
        elif args.database_url:
            url = args.database_url
        else:
            server = PostgresServer().start()
            url = server.create_database("bench_figures")
        result: dict[str, Any] = {"tickets": args.tickets, "database": url.split(":")[0]}
        engine = create_engine(url)
        with engine.connect() as c:
            loaded = inspect(c).has_table("tickets") and c.execute(text("SELECT count(*) FROM tickets")).scalar()
        engine.dispose()
        if not loaded:
            print(f"loading {args.tickets:,} tickets …", flush=True)
            load = load_sqlite if url.startswith("sqlite") else loader.load
            result["load"] = load(url, args.tickets, args.week, args.seed)
            print(f"  loaded in {result['load']['load_s']:.1f} s", flush=True)
        else:
            result["tickets"] = loaded
        now = make_time(args.week)
        result["now"] = now.isoformat()
        result["periods"] = {k: [a.isoformat(), b.isoformat()] for k, (a, b) in periods(now).items()}
        print("API (Flask test client):", flush=True)
        platform, headers = start_platform(url)
        result["rollups"] = build_rollups(platform, now)
        print(f"  figures' rows: {result['rollups']}", flush=True)
        result["api"], bodies = measure_api(platform, headers, now, args.runs)
        result["received"] = {k: b["received"] if "received" in b else sum(u["received"] for u in b["units"])
                              for k, b in bodies.items()}
        if args.parts:
            result["parts"] = measure_parts(url, now, args.runs)
        if not args.no_duckdb and not url.startswith("sqlite"):  # DuckDB against PostgreSQL only
            with tempfile.TemporaryDirectory(prefix="bench-figures-") as where:
                print("exporting to Parquet …", flush=True)
                result["export"] = export(url, Path(where))
                result["duckdb"] = measure_duckdb(Path(where), url, now, args.runs, bodies)
                result["duckdb_counts_equal"] = True
        result["load_average"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(table(result))
        if args.json:
            print(json.dumps(result, ensure_ascii=False, indent=2))
    finally:
        if platform is not None:
            platform.stop()
        if server is not None:
            server.stop()
        if scratch is not None:
            import shutil

            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
