"""``app.py drill``: a surge day replayed into the training space, served on a port of its own.

    python app.py drill --from-day 2026-08-16 --speed 10               # the simulated day
    python app.py drill --from-day 2026-08-16 --file day.csv --mapping m.yaml --speed 10
    python app.py drill --from-day 2026-08-16 --from-real-db --speed 10 --reset

The training space (``dashboard/drill/space.py``) is a platform of its own: its database, its Redis
database and push channel, its sandboxed SMS, its accounts (the demo's usernames, a password
of this drill, printed), every page marked 演练 (``dashboard/drill/marking.py``). Trainees
log in to it and work the tickets on the real screens. Docs: docs/DRILL.md.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from dataclasses import replace
from datetime import date, time
from pathlib import Path
from collections.abc import Iterable
from typing import Any

from dashboard.drill import feed, space
from settings import Settings

DEFAULT_START = "08:00"


def add_commands(sub: Any) -> None:
    p = sub.add_parser("drill", help="演练: replay a real or simulated day into the isolated training space",
                       description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--from-day", required=True, help="the day to replay (YYYY-MM-DD, the bureau's time zone)")
    p.add_argument("--from-time", default=DEFAULT_START, help=f"local time of day to start from (default {DEFAULT_START})")
    p.add_argument("--speed", type=float, default=10.0, help="N× real time (default 10; 0: no waiting)")
    p.add_argument("--duration", type=float,
                   help="minutes the drill runs, then it stops (default: to the day's end, then until Ctrl-C)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--file", help="a day of real history: a .csv, .csv.gz or .xlsx file (with --mapping)")
    source.add_argument("--from-real-db", action="store_true", help="the real database's tickets of that day (read only)")
    p.add_argument("--mapping", help="the import mapping (YAML) of --file")
    p.add_argument("--rate", type=float, help="simulated day: tickets per hour at the daily mean "
                                              "(default: the simulator's, setting simulator_rate_per_hour)")
    p.add_argument("--seed", type=int, help="simulated day: another day's worth of requests (default: from the date)")
    p.add_argument("--limit", type=int, help="stop the feed after this many records")
    p.add_argument("--host", help="where the training space listens (default: the platform's host)")
    p.add_argument("--port", type=int, help="the training space's port (default: setting drill_port, 8060)")
    p.add_argument("--reset", action="store_true",
                   help="start the training space afresh: its database, live state, accounts' password")
    p.set_defaults(func=cmd_drill)


def cmd_drill(args: argparse.Namespace) -> int:
    import settings as settings_module

    real = settings_module.load()
    try:
        day, start = date.fromisoformat(args.from_day), time.fromisoformat(args.from_time)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.file and not args.mapping:
        print("error: --file takes --mapping MAPPING.yaml", file=sys.stderr)
        return 2
    try:
        drill = space.training_settings(real, port=args.port)
        if args.host:
            drill = replace(drill, host=args.host)
        space.check_apart(real, drill)
    except space.NotApart as exc:
        print(f"error: refusing the drill: {exc}", file=sys.stderr)
        return 2
    team = space.trainees(drill, _accounts_template(real), reset=args.reset)
    space.prepare_database(drill, reset=args.reset)
    if args.reset:
        space.flush_live_path(drill)
    from tickets.bootstrap import session_factory

    if not space.seed(drill, session_factory(drill.database_url, drill)) and team.fresh:
        Path(drill.demo_accounts_file).unlink()  # its password is nobody's: the next run must say so again
        print(f"error: the training space's accounts were made by an earlier drill ({drill.demo_accounts_file} is "
              "new): start it with --reset", file=sys.stderr)
        return 2
    hours = args.duration * args.speed / 60 if args.duration and args.speed > 0 else None
    first, last = feed.window(day, start, drill.tz, hours)
    count, items = _items(args, real, drill, first, last)

    from dashboard import create_platform

    platform = create_platform(drill)
    _announce(drill, team, count, first, last, args.speed)
    threading.Thread(target=_play, args=(platform, drill, items, args), name="drill-feed", daemon=True).start()
    if args.duration:
        threading.Thread(target=_stop_after, args=(platform.stop_event, args.duration * 60), name="drill-end",
                         daemon=True).start()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        platform.run()
    except KeyboardInterrupt:
        pass
    finally:
        platform.stop()
    print("演练 drill over: the training space keeps its tickets until the next --reset", flush=True)
    return 0


def _accounts_template(real: Settings) -> Path:
    """The demo accounts' file (its usernames and roles), even where the real platform loads none."""
    given = real.demo_accounts_file.strip()
    return Path(given) if given.lower() not in ("", "none", "off") else Path(Settings.demo_accounts_file)


def _items(args: argparse.Namespace, real: Settings, drill: Settings, first: Any, last: Any) -> tuple[int, Iterable[Any]]:
    """How many records the drill's day has, and the records (oldest first)."""
    from tickets.bootstrap import session_factory

    seed = args.seed if args.seed is not None else int(args.from_day.replace("-", ""))
    if args.file:
        from datetime import datetime, timedelta, timezone

        from feeds.mapping import Mapping
        from feeds.replay import items_from_file

        factory = session_factory(drill.database_url, drill)
        played = items_from_file(args.file, Mapping.load(args.mapping), factory,
                                 datetime.now(timezone.utc) + timedelta(days=36500))
        rows = feed.pseudonymised(feed.within(played, first, last), seed)
        return len(rows), rows
    if args.from_real_db:
        from feeds.replay import items_from_db

        real_factory = session_factory(real.database_url, real)
        with real_factory() as session:  # read only: nothing is written to the real database
            rows = items_from_db(session, first, last)
        real_factory.kw["bind"].dispose()
        rows = feed.pseudonymised(rows, seed)
        return len(rows), rows
    rate = args.rate if args.rate is not None else real.simulator_rate_per_hour
    return feed.simulated(first, last, drill.tz, rate_per_hour=rate, seed=seed)


def _play(platform: Any, drill: Settings, items: Iterable[Any], args: argparse.Namespace) -> None:
    from feeds.replay import Replayer

    player = Replayer(platform.factory, drill.tz, speed=args.speed, stop=platform.stop_event)
    stats = player.play(items, limit=args.limit)
    # The history's instants in the bureau's time, as the trainer gave them.
    stats.first_at, stats.last_at = (t.astimezone(drill.tz) if t else None for t in (stats.first_at, stats.last_at))
    print(f"演练 drill feed: {stats.text()}", flush=True)


def _stop_after(stop: threading.Event, seconds: float) -> None:
    if not stop.wait(seconds):
        os.kill(os.getpid(), signal.SIGINT)  # the server stops as on Ctrl-C


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


def _announce(drill: Settings, team: space.Trainees, count: int, first: Any, last: Any, speed: float) -> None:
    base = f"http://{drill.host}:{drill.port}"
    local = f"{first.astimezone(drill.tz):%Y-%m-%d %H:%M} → {last.astimezone(drill.tz):%H:%M}"
    print(f"演练 DRILL training space: {base}/login  (database {space.safe_url(drill.database_url)}, redis "
          f"{'embedded' if drill.embedded_redis else drill.redis_url}, channel {drill.live_channel}, SMS sandbox)",
          flush=True)
    print(f"feed: {count} records of {local} at {speed:g}×", flush=True)
    print(f"trainees' password (all accounts): {team.password}", flush=True)
    for account in team.accounts:
        print(f"  {account['username']:<12} {account['role']:<13} {account['unit']}", flush=True)
    print(f"drill wall (no login): {base}/wall?kiosk={team.kiosk_token}", flush=True)
