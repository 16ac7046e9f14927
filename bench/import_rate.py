"""Benchmark: CSV import rate (records/s), SQLite and PostgreSQL, everything on.

    .venv/bin/python bench/import_rate.py                          # both datasets, both databases
    .venv/bin/python bench/import_rate.py --dataset hotline --rows 50000 --backend sqlite
    .venv/bin/python bench/import_rate.py --dataset boston --backend postgresql

Datasets:

- ``boston``: the real Boston 311 file (../shared/data/boston311_2015.csv.gz,
  121,145 rows) with examples/boston311.yaml into the Boston demo bureau:
  date parsing, validation, the source's own routing (police district →
  unit), deadlines from the data, de-duplication of open cases (suggest
  mode), dead letters, batched commits. Skipped when the file is not there.
- ``hotline``: a 12345 export written from the simulated feed (feeds/simulator.py:
  Jinan places, Chinese texts, phones) in GCJ-02 with Chinese date formats,
  into the Jinan demo bureau: coordinates converted, topic read from the
  text, routing by jurisdiction polygons (``dispatch.route``), automatic
  de-duplication, every ticket open (dispatched now, deadlines from the
  SLA policy, announced on the outbox).

The rate is rows of the file / wall-clock seconds of ``run_import``, from
opening the file to the last commit (counting the rows and hashing the file
included); the importer process's CPU time is printed too, since the machine
is often shared (on SQLite it includes the database's own work, on
PostgreSQL the server's CPU is not in it). PostgreSQL runs as a throwaway server (tests/servers.py) on the
same 2-core machine. Results go to docs/PERFORMANCE.md by hand.
"""
from __future__ import annotations

import argparse
import csv
import gzip
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import app  # noqa: E402
from feeds.importer import run_import  # noqa: E402
from feeds.mapping import Mapping  # noqa: E402
from geo.coords import wgs84_to_gcj02  # noqa: E402
from tickets.bootstrap import session_factory  # noqa: E402
from tickets.uow import unit_of_work  # noqa: E402
from tickets.schema import upgrade  # noqa: E402
from tickets.units import load_bureau  # noqa: E402

BOSTON = ROOT.parent / "shared" / "data" / "boston311_2015.csv.gz"
SHANGHAI = ZoneInfo("Asia/Shanghai")

HOTLINE_MAPPING = {
    "name": "bench_hotline", "source": "bench", "timezone": "Asia/Shanghai",
    "dates": {"formats": ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd"]},
    "columns": {"external_id": "工单编号", "received_at": "派单时间", "title": "诉求主题", "content": "诉求内容",
                "address": "事发地址", "district": "区县", "lat": "纬度", "lon": "经度", "phone": "来电号码",
                "name": "来电人"},
    "due": {"missing": "sla"},
    "coordinates": {"system": "gcj02"},
    "channel": {"column": "来源", "map": {"12345": "hotline_12345", "110": "cad_110", "信箱": "director_mailbox",
                                        "窗口": "service_window", "来电": "call"}, "default": "hotline_12345"},
    "topic": {"from_text": True},
    "kind": {"from_text": True},
    "sla_class": {"value": "service"},
    "dedup": {"mode": "auto"},
}
CHANNEL_WORD = {"hotline_12345": "12345", "cad_110": "110", "director_mailbox": "信箱", "service_window": "窗口",
                "call": "来电"}


def write_hotline(path: Path, rows: int, seed: int = 7) -> datetime:
    """A 12345 export of ``rows`` simulated requests; returns a 'now' after the last one."""
    from feeds.simulator import Simulator

    sim = Simulator(seed=seed, rate_per_hour=600, tz=SHANGHAI)
    start = datetime(2026, 6, 1, tzinfo=SHANGHAI)
    written = 0
    last = start
    with gzip.open(path, "wt", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["工单编号", "派单时间", "来源", "诉求主题", "诉求内容", "事发地址", "区县", "纬度", "经度",
                      "来电号码", "来电人"])
        t = start
        while written < rows:
            for r in sim.requests_between(t, t + timedelta(hours=6)):
                if written >= rows:
                    break
                lat, lon = wgs84_to_gcj02(r.lat, r.lon) if r.lat is not None else (None, None)
                at = r.received_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
                out.writerow([f"GS{written:010d}", at, CHANNEL_WORD.get(r.channel, "12345"), r.title, r.content,
                              r.address or "", r.district or "", "" if lat is None else f"{lat:.6f}",
                              "" if lon is None else f"{lon:.6f}", r.citizen_phone or "", r.citizen_name or ""])
                written += 1
                last = r.received_at
            t += timedelta(hours=6)
    return last + timedelta(minutes=1)


def database(backend: str, workdir: Path, server: object | None, name: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{workdir / (name + '.db')}"
    return server.create_database(name)  # type: ignore[attr-defined]


def run(dataset: str, backend: str, workdir: Path, server: object | None, rows: int, batch: int) -> None:
    if dataset == "boston":
        if not BOSTON.exists():
            print(f"boston: {BOSTON} not found, skipped")
            return
        path, mapping, bureau, tz = BOSTON, Mapping.load(ROOT / "examples" / "boston311.yaml"), \
            ROOT / "examples" / "boston_bureau.yaml", ZoneInfo("America/New_York")
        now = datetime.now(timezone.utc)
    else:
        path = workdir / f"hotline_{rows}.csv.gz"
        now = write_hotline(path, rows) if not path.exists() else datetime(2026, 12, 31, tzinfo=timezone.utc)
        mapping, bureau, tz = Mapping.from_dict(HOTLINE_MAPPING), ROOT / "examples" / "jinan_bureau.yaml", SHANGHAI
    url = database(backend, workdir, server, f"bench_{dataset}_{int(time.time() * 1000) % 10**8}")
    upgrade(url)
    factory = session_factory(url)
    with unit_of_work(factory) as s:
        load_bureau(s, bureau)
    started, cpu = time.perf_counter(), time.process_time()
    report = run_import(factory, path, mapping, tz, now=now, batch=batch)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    factory.kw["bind"].dispose()
    print(f"{dataset:<8} {backend:<10} {report.rows_total:>8,} rows  {seconds:6.1f} s  "
          f"{report.rows_total / seconds:>7,.0f} rows/s  (importer CPU {cpu:5.1f} s: "
          f"{report.rows_total / cpu:>6,.0f} rows per CPU-second)  imported {report.counts['imported']:,}, "
          f"merged {report.counts['merged']:,}, duplicate {report.counts['duplicate']:,}, "
          f"rejected {report.counts['rejected']:,}, suggestions {report.suggestions:,}, "
          f"{'reconciles' if report.reconciles else 'DOES NOT RECONCILE'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["boston", "hotline", "both"], default="both")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rows", type=int, default=50_000, help="rows of the simulated hotline export")
    parser.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args()
    app.tune_gc()  # as ``app.py import`` runs
    datasets = ["boston", "hotline"] if args.dataset == "both" else [args.dataset]
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory(prefix="minsheng-bench-") as tmp:
        workdir = Path(tmp)
        server = None
        if "postgresql" in backends:
            from tests.servers import PostgresServer

            server = PostgresServer().start()
        try:
            for dataset in datasets:
                for backend in backends:
                    run(dataset, backend, workdir, server, args.rows, args.batch)
        finally:
            if server is not None:
                server.stop()


if __name__ == "__main__":
    main()
