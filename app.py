"""Minsheng command line: ``python app.py COMMAND``.

    run        migrate, load the demo bureau if the database has no units,
               and serve the platform (with --simulate: the simulated feed too)
    db         upgrade the schema (Alembic)
    demo       load the demo bureau's units
    simulate   run the simulated feed as its own process
    live       rebuild the live state from the database
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from datetime import timedelta
from pathlib import Path

import settings as settings_module
from settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "port", None):
        overrides["port"] = args.port
    if getattr(args, "host", None):
        overrides["host"] = args.host
    return settings_module.load(**overrides)


def cmd_db(args: argparse.Namespace) -> int:
    from tickets.schema import downgrade, upgrade

    cfg = _settings(args)
    if args.action == "upgrade":
        upgrade(cfg.database_url, args.revision)
    else:
        downgrade(cfg.database_url, args.revision)
    print(f"database at {args.revision}: {cfg.database_url}")
    return 0


def _load_demo(cfg: Settings, path: str, only_if_empty: bool) -> None:
    from sqlalchemy import func, select

    from tickets.db import make_engine, make_session_factory, unit_of_work
    from tickets.models import Unit
    from tickets.units import load_bureau

    factory = make_session_factory(make_engine(cfg.database_url))
    with unit_of_work(factory) as session:
        if only_if_empty and session.scalar(select(func.count()).select_from(Unit)):
            return
        report = load_bureau(session, Path(path))
    print(f"units from {path}: {report}")


def cmd_demo(args: argparse.Namespace) -> int:
    cfg = _settings(args)
    _load_demo(cfg, args.file or cfg.demo_bureau_file, only_if_empty=False)
    return 0


def _simulator_thread(cfg: Settings, args: argparse.Namespace, stop: threading.Event) -> threading.Thread:
    from dataclasses import replace

    from feeds import simulator
    from tickets.db import make_engine, make_session_factory

    factory = make_session_factory(make_engine(cfg.database_url))
    if args.rate is not None:
        cfg = replace(cfg, simulator_rate_per_hour=args.rate)
    if args.seed is not None:
        cfg = replace(cfg, simulator_seed=args.seed)
    thread = threading.Thread(
        target=simulator.run,
        args=(factory, cfg, stop),
        kwargs={"backfill": timedelta(hours=args.backfill_hours)},
        name="simulator",
        daemon=True,
    )
    thread.start()
    return thread


def cmd_run(args: argparse.Namespace) -> int:
    from dashboard import create_platform
    from tickets.schema import upgrade

    cfg = _settings(args)
    upgrade(cfg.database_url)
    _load_demo(cfg, cfg.demo_bureau_file, only_if_empty=True)
    platform = create_platform(cfg)
    if args.simulate:
        _simulator_thread(cfg, args, platform.stop_event)
    print(f"Minsheng: http://{cfg.host}:{cfg.port}/wall  (database {cfg.database_url}, "
          f"redis {'embedded' if cfg.embedded_redis else cfg.redis_url})", flush=True)
    try:
        platform.run()
    finally:
        platform.stop()
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    cfg = _settings(args)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    thread = _simulator_thread(cfg, args, stop)
    try:
        while thread.is_alive():
            thread.join(0.5)
    except KeyboardInterrupt:
        stop.set()
        thread.join(5)
    return 0


def cmd_live(args: argparse.Namespace) -> int:
    from dashboard import create_platform

    platform = create_platform(_settings(args), live=False)
    epoch = platform.aggregator.rebuild()
    print(f"live state rebuilt, epoch {epoch}: {platform.aggregator.counters()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="app.py", description="Minsheng people's-livelihood policing platform")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    def feed_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--rate", type=float, help="simulated tickets per hour at the daily mean")
        p.add_argument("--seed", type=int, help="make the simulated feed reproducible")
        p.add_argument("--backfill-hours", type=float, default=0.0,
                       help="first simulate this many hours of history up to now")

    run = sub.add_parser("run", help="serve the platform")
    run.add_argument("--host")
    run.add_argument("--port", type=int)
    run.add_argument("--simulate", action=argparse.BooleanOptionalAction, default=False,
                     help="also run the simulated feed in this process")
    feed_options(run)
    run.set_defaults(func=cmd_run)

    db = sub.add_parser("db", help="schema migrations")
    db.add_argument("action", choices=["upgrade", "downgrade"])
    db.add_argument("revision", nargs="?", default="head")
    db.set_defaults(func=cmd_db)

    demo = sub.add_parser("demo", help="demo data")
    demo.add_argument("action", choices=["load"])
    demo.add_argument("--file", help="bureau YAML (default: the Jinan demo bureau)")
    demo.set_defaults(func=cmd_demo)

    simulate = sub.add_parser("simulate", help="run the simulated feed")
    feed_options(simulate)
    simulate.set_defaults(func=cmd_simulate)

    live = sub.add_parser("live", help="live state")
    live.add_argument("action", choices=["rebuild"])
    live.set_defaults(func=cmd_live)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
