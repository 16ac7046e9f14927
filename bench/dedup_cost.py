"""Benchmark: de-duplication's cost per record, the candidate search and the verdicts.

    .venv/bin/python bench/dedup_cost.py                                  # 150 records/h, 20% without a point
    .venv/bin/python bench/dedup_cost.py --rate 300 --no-point 0.5
    .venv/bin/python bench/dedup_cost.py --baseline /tmp/old/tickets/dedup.py   # against another rule

A day of the simulated feed (feeds/simulator.py: Jinan places and Chinese
texts) is judged against the open tickets of the three days before it, as
intake judges a record: ``CandidateIndex.candidates`` (the same phone, the same
topic nearby, the same district and topic without a point) and ``compare`` of
each candidate (``dedup.rank``). A share of the records loses its point, as a
mailbox letter, a visit or an order whose address was not geocoded does: those
are the ones judged by their words and named places, and the ones with many
candidates (every open ticket of their district and topic). The open tickets'
texts are in the caches (they were read when they arrived), the new record's
are not. Times are the process's CPU time (the machine is shared), best of
``--rounds``; ``--baseline`` loads another ``tickets/dedup.py`` (e.g. one from
``git archive``) and times its ``compare`` on the same records and candidates.
No database: what the index narrows to and what ``compare`` costs, nothing else.
"""
from __future__ import annotations

import argparse
import gc
import importlib.util
import random
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feeds.simulator import Simulator
from tickets import dedup, placenames

TZ = ZoneInfo("Asia/Shanghai")


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("dedup_baseline", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["dedup_baseline"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=150.0, help="simulated records per hour")
    parser.add_argument("--no-point", type=float, default=0.2, help="share of records without a point")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--baseline", type=Path, help="another tickets/dedup.py to time beside this one")
    args = parser.parse_args(argv)

    end = datetime(2026, 6, 20, tzinfo=UTC)
    rng = random.Random(1)
    records = [dedup.Record.of_request(r) for r in
               Simulator(seed=3, rate_per_hour=args.rate, tz=TZ).requests_between(end - timedelta(hours=96), end)]
    records = [replace(r, lat=None, lon=None) if rng.random() < args.no_point else r for r in records]
    split = end - timedelta(hours=24)
    open_tickets = [replace(r, ticket_id=n + 1) for n, r in enumerate(records) if r.received_at < split]
    arriving = [r for r in records if r.received_at >= split]
    index = dedup.CandidateIndex()
    for r in open_tickets:
        index.add(r)
    rules: dict[str, ModuleType] = {"this rule": dedup}
    if args.baseline:
        rules = {"baseline": load_module(args.baseline), **rules}
    for module in rules.values():
        for r in open_tickets:
            module.shingles(r.text)
    for r in open_tickets:
        placenames.places(r.text)

    def judge(module: ModuleType, salt: str) -> tuple[float, float]:
        params = module.Params()
        found = 0
        started = time.process_time()
        for r in arriving:
            r = replace(r, text=r.text + salt)  # a text not seen before
            candidates = index.candidates(r, params.window_hours, params.near_m)
            found += len(candidates)
            module.rank(r, candidates, params)
        return (time.process_time() - started) / len(arriving) * 1e6, found / len(arriving)

    print(f"{len(open_tickets)} open tickets, {len(arriving)} records judged, "
          f"{args.no_point:.0%} without a point")
    gc.disable()
    times: dict[str, list[float]] = {name: [] for name in rules}
    per_record = 0.0
    for n in range(args.rounds):
        for name, module in rules.items():
            cost, per_record = judge(module, f"#{name}{n}")
            times[name].append(cost)
    gc.enable()
    for name, costs in times.items():
        costs.sort()
        print(f"{name}: {costs[0]:.0f} µs per record (best of {args.rounds}, CPU; median "
              f"{costs[len(costs) // 2]:.0f}), {per_record:.1f} candidates per record")
    return 0


if __name__ == "__main__":
    sys.exit(main())
