"""Minsheng command line: ``python app.py COMMAND``.

    run        migrate, load the demo bureau if the database has no units,
               and serve the platform (with --simulate: the simulated feed too);
               the one-process demo (Werkzeug's development server)
    serve      production: migrate, then serve the web app under gunicorn (no background duties)
    worker     production: the background duties (relay, live aggregator, sweeps, SMS, bulletin)
    db         upgrade the schema (Alembic)
    demo       load the demo bureau's units and the demo accounts
    user       real-name accounts: create-admin, create, list, deactivate
    token      API tokens and wall kiosk tokens: create, kiosk, list, revoke
    simulate   run the simulated feed as its own process
    live       rebuild the live state from the database
    sla        deadline: print a ticket's deadlines under the SLA policy
    calendar   load/show a year's official holidays and make-up working days
    audit      the audit log: verify its hash chain, list who did what
    geo        station jurisdictions: check a GeoJSON file, derive the demo ones
    import     a CSV/Excel file with a mapping (YAML): resumable, idempotent, --dry-run
    replay     play a history into the live path at N× speed (demos, drills)
    intake     file channels: the 110 CSV export, mailbox .eml files; dead letters
    bulletin   the weekly bulletin (每周通报): make (freeze) a week, re-issue it, list, show
    drill      演练: replay a real or simulated day into the isolated training space, served apart
"""
from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import settings as settings_module
from settings import Settings


# The cycle collector's thresholds for every command here (each a long-running process).
# With CPython's defaults (700, 10, 10) a busy intake process spent a sixth of its time
# collecting: each older-generation pass walked the de-duplication index, the routing
# tables and the caches again. Nearly everything is freed by reference counting anyway;
# the collector is there for cycles, and finds them as surely running less often.
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc(*, freeze: bool = False) -> None:
    """Set the collector's thresholds; ``freeze``: leave everything allocated so far (the
    modules, layouts and tables a started platform holds) out of every later collection."""
    gc.set_threshold(*GC_THRESHOLDS)
    if freeze:
        gc.collect()
        gc.freeze()


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

    from tickets.bootstrap import session_factory
    from tickets.uow import unit_of_work
    from tickets.models import Unit
    from tickets.units import load_bureau

    factory = session_factory(cfg.database_url, cfg)
    with unit_of_work(factory) as session:
        if only_if_empty and session.scalar(select(func.count()).select_from(Unit)):
            return
        report = load_bureau(session, Path(path))
    print(f"units from {path}: {report}")


def cmd_demo(args: argparse.Namespace) -> int:
    cfg = _settings(args)
    _load_demo(cfg, args.file or cfg.demo_bureau_file, only_if_empty=False)
    accounts_file = None if args.no_accounts else _demo_accounts_file(cfg, args.accounts)
    if accounts_file is not None:
        _load_demo_accounts(cfg, accounts_file, only_if_no_users=False)
    return 0


# ------------------------------------------------------------ accounts, tokens
def _factory(cfg: Settings) -> Any:
    from tickets.bootstrap import session_factory

    return session_factory(cfg.database_url, cfg)


def _demo_accounts_file(cfg: Settings, override: str | None = None) -> Path | None:
    value = (override if override is not None else cfg.demo_accounts_file).strip()
    return None if value.lower() in ("", "none", "off") else Path(value)


def _load_demo_accounts(cfg: Settings, path: Path, only_if_no_users: bool) -> None:
    from sqlalchemy import func, select

    from tickets.accounts import load_demo_accounts
    from tickets.uow import unit_of_work
    from tickets.models import User

    with unit_of_work(_factory(cfg)) as session:
        if only_if_no_users and session.scalar(select(func.count()).select_from(User)):
            return
        report = load_demo_accounts(session, path)
    print(report.summary(), flush=True)
    if report.created:
        print(f"WARNING: the demo accounts' password is published ({path.name}); "
              "never load them into a production database", file=sys.stderr, flush=True)


def _base_url(cfg: Settings, given: str | None = None) -> str:
    return (given or f"http://{cfg.host}:{cfg.port}").rstrip("/")


def _demo_kiosk_url(cfg: Settings) -> str | None:
    """The demo wall URL if its token is still live (no other token's plaintext is known)."""
    from sqlalchemy import select

    from tickets.accounts import demo_kiosk_token, token_hash
    from tickets.models import ApiToken

    path = _demo_accounts_file(cfg)
    token = demo_kiosk_token(path) if path is not None and path.exists() else None
    if not token:
        return None
    with _factory(cfg)() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
        live = row is not None and row.revoked_at is None
    return f"{_base_url(cfg)}/wall?kiosk={token}" if live else None


def _new_password(args: argparse.Namespace) -> str:
    if args.password is not None:
        password: str = args.password
    else:
        import getpass

        password = getpass.getpass("password (密码): ")
        if password and getpass.getpass("again (再次输入): ") != password:
            raise ValueError("the two passwords differ")
    if not password.strip():
        raise ValueError("refusing an empty password")
    return password


def cmd_user(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from tickets import accounts
    from tickets.audit import cli_actor
    from tickets.models import Unit, User
    from tickets.sms import mask_phone
    from tickets.uow import unit_of_work

    cfg = _settings(args)
    by = cli_actor()
    try:
        with unit_of_work(_factory(cfg)) as session:
            if args.action in ("create-admin", "create"):
                role = "admin" if args.action == "create-admin" else args.role
                user = accounts.create_user(session, args.username, args.real_name, args.police_number,
                                            args.unit, role, _new_password(args), phone=args.phone, by=by)
                print(f"created {user.username} ({user.real_name}, {role}) at {args.unit}, id {user.id}")
            elif args.action == "list":
                rows = session.execute(select(User, Unit.code).join(Unit, User.unit_id == Unit.id)
                                       .order_by(User.id)).all()
                for user, code in rows:
                    state = "" if user.active else "  (inactive)"
                    print(f"{user.id:>4}  {user.username:<16} {user.real_name:<8} {user.police_number or '-':<8} "
                          f"{code:<12} {mask_phone(user.phone) if user.phone else '-':<12} {user.role}{state}")
            elif args.action == "set-phone":
                found = accounts.find_user(session, args.username)
                if found is None:
                    raise ValueError(f"no user {args.username!r}")
                accounts.set_phone(session, found, args.phone, by=by)
                print(f"{found.username}: SMS escalations to {mask_phone(found.phone)}" if found.phone
                      else f"{found.username}: no SMS escalations (no phone)")
            elif args.action == "deactivate":
                found = accounts.find_user(session, args.username)
                if found is None:
                    raise ValueError(f"no user {args.username!r}")
                ended = accounts.deactivate_user(session, found, by=by)
                print(f"deactivated {found.username}: logins, sessions and tokens refused from now on "
                      f"({ended} login session(s) ended)")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.action == "deactivate":
        _announce_revocation(cfg)
    return 0


def _announce_revocation(cfg: Settings) -> None:
    """Tell the running platform's web processes that a login or token was just revoked (as the
    admin screens do, dashboard/auth.py ``grants_revoked``): they drop its cached grants and
    sockets at once, not at their next sweep. With the in-process stand-in there is nobody to tell."""
    if cfg.embedded_redis:
        return
    from dashboard.auth import announce_revocation
    from dashboard.redis_link import connect

    announce_revocation(connect(cfg))  # Redis away: a warning, and the sweeps find it in seconds


def cmd_token(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from tickets import accounts, walls
    from tickets.audit import cli_actor
    from tickets.uow import unit_of_work
    from tickets.models import ApiToken, Unit

    cfg = _settings(args)
    by = cli_actor()
    try:
        with unit_of_work(_factory(cfg)) as session:
            if args.action == "create":
                user = accounts.find_user(session, args.user)
                if user is None:
                    raise ValueError(f"no user {args.user!r}")
                print(accounts.issue_token(session, "api", user=user, label=args.label, by=by))
            elif args.action == "kiosk":
                unit = None
                if args.unit:
                    unit = session.scalar(select(Unit).where(Unit.code == args.unit))
                    if unit is None:
                        raise ValueError(f"no unit {args.unit!r}")
                screen = f"/wall?unit={unit.code}" if unit is not None else "/wall"  # /admin lists it so
                token = accounts.issue_token(session, "kiosk", label=args.label, unit=unit, by=by, screen=screen)
                print(_base_url(cfg, args.base_url) + walls.link(screen, token))
            elif args.action == "revoke":
                revoked = accounts.revoke_token(session, args.id, by=by)
                print(f"revoked token {revoked.id} ({revoked.kind}, {revoked.label or 'no label'})")
            elif args.action == "list":
                for t in session.scalars(select(ApiToken).order_by(ApiToken.id)):
                    owner = t.user.username if t.user else "-"
                    used = t.last_used_at.isoformat(timespec="minutes") if t.last_used_at else "never"
                    state = f"revoked {t.revoked_at.isoformat(timespec='minutes')}" if t.revoked_at else "live"
                    print(f"{t.id:>4}  {t.kind:<6} {owner:<16} {t.label or '-':<24} used {used:<22} {state}")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.action == "revoke":
        _announce_revocation(cfg)
    return 0


def _simulator_thread(cfg: Settings, args: argparse.Namespace, stop: threading.Event) -> threading.Thread:
    from feeds import simulator
    from tickets.bootstrap import session_factory

    factory = session_factory(cfg.database_url, cfg)
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


DEMO_SECRET_FILE = settings_module.ROOT / "data" / "demo_secret_key"


def _demo_secret_key() -> str:
    """The demo's own random SECRET_KEY, made once (every demo process on this checkout shares it)."""
    import os
    import secrets

    DEMO_SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(DEMO_SECRET_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        import time

        for _ in range(50):  # another demo process made it a moment ago and is writing it
            key = DEMO_SECRET_FILE.read_text(encoding="ascii").strip()
            if key:
                return key
            time.sleep(0.1)
        raise RuntimeError(f"{DEMO_SECRET_FILE} is empty: delete it and start again") from None
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secrets.token_hex(32))
    return DEMO_SECRET_FILE.read_text(encoding="ascii").strip()


PUBLISHED_SECRET_KEY = ("error: SECRET_KEY is the published development value; set SECRET_KEY "
                        "(python3 -c 'import secrets; print(secrets.token_hex(32))')")


def cmd_run(args: argparse.Namespace) -> int:
    from dashboard import create_platform
    from tickets.schema import upgrade

    cfg = _settings(args)
    if cfg.secret_key == Settings.secret_key:
        # Sessions are signed with this key: the published value would let anyone forge one.
        # Only the demo (its published accounts on a loopback host) runs without one, on a random
        # key of its own; anything else must be given one.
        if _demo_accounts_file(cfg) is None or cfg.host not in ("127.0.0.1", "localhost", "::1"):
            print(PUBLISHED_SECRET_KEY, file=sys.stderr)
            return 2
        cfg = replace(cfg, secret_key=_demo_secret_key())
    upgrade(cfg.database_url)
    _load_demo(cfg, cfg.demo_bureau_file, only_if_empty=True)
    accounts_file = _demo_accounts_file(cfg)
    if accounts_file is not None:
        _load_demo_accounts(cfg, accounts_file, only_if_no_users=True)
    platform = create_platform(cfg)
    tune_gc(freeze=True)  # started: what exists now stays for the life of the process
    if args.simulate:
        _simulator_thread(cfg, args, platform.stop_event)
    print(f"Minsheng: http://{cfg.host}:{cfg.port}/wall  (database {cfg.database_url}, "
          f"redis {'embedded' if cfg.embedded_redis else cfg.redis_url})", flush=True)
    kiosk_url = _demo_kiosk_url(cfg)
    print(f"wall without login (demo kiosk): {kiosk_url}" if kiosk_url else
          "wall kiosk URL: python app.py token kiosk; log in at /login", flush=True)
    try:
        platform.run()
    finally:
        platform.stop()
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Production web: gunicorn (dashboard/serve.py) with the settings' worker class, workers
    and threads; migrates once before forking; runs none of the background duties (app.py worker)."""
    from dashboard.serve import PlatformServer, check
    from tickets.schema import upgrade

    overrides: dict[str, Any] = {}
    if args.workers:
        overrides["serve_workers"] = args.workers
    if args.threads:
        overrides["serve_threads"] = args.threads
    if args.worker_connections:
        overrides["serve_worker_connections"] = args.worker_connections
    if args.worker_class:  # the class and the one Socket.IO mode it serves
        overrides.update(serve_worker_class=args.worker_class, async_mode=settings_module.SERVE_ASYNC_MODES[args.worker_class])
    cfg = replace(_settings(args), **overrides)
    if cfg.secret_key == Settings.secret_key:  # only the loopback demo (app.py run) may run without one
        print(PUBLISHED_SECRET_KEY, file=sys.stderr)
        return 2
    try:
        check(cfg)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    upgrade(cfg.database_url)
    per_worker = (f"{cfg.serve_worker_connections} connections" if cfg.serve_worker_class == "gevent"
                  else f"{cfg.serve_threads} threads")
    print(f"Minsheng (gunicorn, {cfg.serve_workers} × {cfg.serve_worker_class} × {per_worker}): "
          f"http://{cfg.host}:{cfg.port}/wall  (database {cfg.database_url}, redis {cfg.redis_url}); "
          "the background duties run in app.py worker", flush=True)
    PlatformServer(cfg, access_log=args.access_log).run()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """The background duties apart from the web: the outbox relay, the live aggregator, the
    deadline timers and sweeps (follow-ups, supervision orders), SMS and results delivery, the
    early warnings and the weekly bulletin. They run in the worker that holds the leadership
    lease (a Redis key, ``dashboard/live/leader.py``); the others stand by.

    Several workers may run. A worker stopped cleanly (SIGTERM, SIGINT) gives its lease up, and a
    standing-by worker takes it at its next look (within ``leader_renew_seconds``, 1 s). A worker
    killed outright (SIGKILL, a lost machine) holds the lease until it runs out: the lease is
    ``leader_lease_seconds`` (5 s), renewed every second, so it runs out 4-5 s after the kill; the
    standing-by worker looks again the moment it does, and the live path resumes there where it
    stopped (the outbox is in PostgreSQL, the stream and its cursor in Redis), nothing lost or
    doubled: 4.2-4.7 s after the kill (bench/handover.py, docs/PERFORMANCE.md)."""
    from dashboard import create_platform

    cfg = _settings(args)
    if cfg.embedded_redis:
        print("error: app.py worker shares Redis with app.py serve: set REDIS_URL", file=sys.stderr)
        return 2
    platform = create_platform(cfg, role="worker")
    tune_gc(freeze=True)
    signal.signal(signal.SIGTERM, lambda *_: platform.stop_event.set())
    print(f"Minsheng worker {platform.leadership.token}: background duties (leader-elected; "
          f"database {cfg.database_url}, redis {cfg.redis_url})", flush=True)
    try:
        while not platform.stop_event.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
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


def cmd_bulletin(args: argparse.Namespace) -> int:
    import json
    from datetime import UTC, datetime

    from sqlalchemy import select

    from tickets import bulletin, services
    from tickets.errors import DomainError
    from tickets.models import Bulletin
    from tickets.roles import SYSTEM
    from tickets.uow import unit_of_work

    cfg = _settings(args)
    now = datetime.now(UTC)
    this_week = bulletin.week_of(now.astimezone(cfg.tz).date())
    week = args.week if getattr(args, "week", None) else bulletin.shift(this_week, -1)
    try:
        with unit_of_work(_factory(cfg)) as uow:
            if args.action == "make":
                made = services.make_bulletin(uow, SYSTEM, week, now=now, reissue=args.reissue)
                if args.json:
                    print(json.dumps(made.content, ensure_ascii=False, indent=1))
                elif made.row is None:
                    print(f"{week}: the running week, provisional (not frozen): "
                          f"{made.content['bureau']['received']} tickets so far")
                elif made.made:
                    print(f"{week}: version {made.row.version} frozen (policy {made.row.policy_version}, "
                          f"{made.content['bureau']['received']} tickets, {len(made.row.changes)} changes)")
                else:
                    print(f"{week}: already frozen as version {made.row.version}; --reissue makes a corrected one")
            elif args.action == "list":
                for row in uow.scalars(select(Bulletin).order_by(Bulletin.week.desc(), Bulletin.version.desc())):
                    print(f"{row.week}  v{row.version:<3} {row.created_at.astimezone(cfg.tz):%Y-%m-%d %H:%M}  "
                          f"{row.created_by:<12} policy {row.policy_version}  {len(row.changes)} changes")
            else:  # show
                content, _ = bulletin.read(uow, week, now, args.version)
                print(json.dumps(content, ensure_ascii=False, indent=1))
    except DomainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _roles() -> list[str]:
    from tickets.roles import ROLES

    return list(ROLES)


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

    serve = sub.add_parser("serve", help="production: the web app under gunicorn (SECRET_KEY and REDIS_URL "
                                         "required; the background duties run in `worker`)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, help="gunicorn worker processes (default: setting serve_workers)")
    serve.add_argument("--threads", type=int, help="threads per worker (default: setting serve_threads)")
    serve.add_argument("--worker-class", choices=sorted(settings_module.SERVE_ASYNC_MODES),
                       help="gunicorn worker class, with its Socket.IO async mode (default: setting serve_worker_class)")
    serve.add_argument("--worker-connections", type=int,
                       help="connections per worker (gevent: screens and requests at once; default: setting "
                            "serve_worker_connections)")
    serve.add_argument("--access-log", default="-", help="gunicorn's access log file ('-': stdout, as default)")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="production: the background duties apart from the web "
                                           "(several may run; one leads)")
    worker.set_defaults(func=cmd_worker)

    db = sub.add_parser("db", help="schema migrations")
    db.add_argument("action", choices=["upgrade", "downgrade"])
    db.add_argument("revision", nargs="?", default="head")
    db.set_defaults(func=cmd_db)

    demo = sub.add_parser("demo", help="demo data")
    demo.add_argument("action", choices=["load"])
    demo.add_argument("--file", help="bureau YAML (default: the Jinan demo bureau)")
    demo.add_argument("--accounts", help="demo accounts YAML (default: examples/demo_accounts.yaml)")
    demo.add_argument("--no-accounts", action="store_true", help="units only: no demo accounts (production)")
    demo.set_defaults(func=cmd_demo)

    user = sub.add_parser("user", help="real-name accounts")
    user_sub = user.add_subparsers(dest="action", required=True)
    for action, role_help in (("create-admin", None), ("create", "one of: " + ", ".join(_roles()))):
        p = user_sub.add_parser(action, help="create the first admin" if role_help is None else "create an account")
        p.add_argument("--username", required=True)
        p.add_argument("--real-name", required=True, help="实名")
        p.add_argument("--police-number", help="警号, 6 digits")
        if role_help is None:
            p.add_argument("--unit", default="JN-PTB", help="unit code (default: JN-PTB, the platform office)")
        else:
            p.add_argument("--role", required=True, choices=_roles(), help=role_help)
            p.add_argument("--unit", required=True, help="unit code, e.g. JN-TQ-01")
        p.add_argument("--password", help="prompted for (not echoed) when not given")
        p.add_argument("--phone", help="mobile number for SMS escalations (optional)")
    user_sub.add_parser("list", help="every account")
    set_phone = user_sub.add_parser("set-phone", help="the mobile number SMS escalations go to ('' removes it)")
    set_phone.add_argument("username")
    set_phone.add_argument("phone")
    deactivate = user_sub.add_parser("deactivate", help="refuse the account's logins and tokens")
    deactivate.add_argument("username")
    user.set_defaults(func=cmd_user)

    token = sub.add_parser("token", help="API and wall kiosk tokens")
    token_sub = token.add_subparsers(dest="action", required=True)
    create = token_sub.add_parser("create", help="an API token for a user (printed once)")
    create.add_argument("--user", required=True)
    create.add_argument("--label", default="")
    kiosk = token_sub.add_parser("kiosk", help="a read-only wall token; prints the wall URL")
    kiosk.add_argument("--label", default="")
    kiosk.add_argument("--unit", help="a branch bureau's wall: this unit's subtree only (its code, e.g. JN-LX); "
                                      "default: the whole city")
    kiosk.add_argument("--base-url", help="how screens reach the platform (default http://HOST:PORT)")
    revoke = token_sub.add_parser("revoke", help="revoke a token by id (see token list)")
    revoke.add_argument("id", type=int)
    token_sub.add_parser("list", help="every token, without its secret")
    token.set_defaults(func=cmd_token)

    simulate = sub.add_parser("simulate", help="run the simulated feed")
    feed_options(simulate)
    simulate.set_defaults(func=cmd_simulate)

    live = sub.add_parser("live", help="live state")
    live.add_argument("action", choices=["rebuild"])
    live.set_defaults(func=cmd_live)

    bulletin = sub.add_parser("bulletin", help="the weekly bulletin (每周通报)")
    bulletin_sub = bulletin.add_subparsers(dest="action", required=True)
    make = bulletin_sub.add_parser("make", help="freeze a week's bulletin (the running week: provisional, not kept)")
    make.add_argument("--week", help="ISO week, e.g. 2026-W48 (default: last week)")
    make.add_argument("--reissue", action="store_true", help="a corrected new version of a frozen week")
    make.add_argument("--json", action="store_true", help="print the bulletin's content")
    bulletin_sub.add_parser("list", help="every frozen week and version")
    show = bulletin_sub.add_parser("show", help="print a bulletin's content as JSON")
    show.add_argument("--week", help="ISO week (default: last week)")
    show.add_argument("--version", type=int, help="a frozen version (default: the newest)")
    bulletin.set_defaults(func=cmd_bulletin)

    from tickets import sla_cli  # sla deadline, calendar load/show

    sla_cli.add_commands(sub)

    from tickets import audit_cli  # audit verify, audit list

    audit_cli.add_commands(sub)

    from geo import cli as geo_cli  # geo check FILE, geo derive

    geo_cli.add_commands(sub)

    from feeds import importer, replay  # import FILE --mapping M.yaml; replay FILE|--from-db --speed N

    importer.add_commands(sub)
    replay.add_commands(sub)

    from feeds import cli as intake_cli  # intake cad110 FILE, intake eml PATH, intake dead-letters

    intake_cli.add_commands(sub)

    from dashboard.drill import cli as drill_cli  # drill --from-day DAY --speed N: the training space

    drill_cli.add_commands(sub)
    return parser


def patch_for_gevent(argv: list[str]) -> None:
    """``serve`` with gevent workers: monkey-patch now, before anything else is imported (the
    parser too: its subcommands import SQLAlchemy, asyncio and so ssl), so ``argv`` is read as
    it stands.

    gunicorn's gevent worker patches only after the fork, when the master has imported psycopg
    (the migrations), SQLAlchemy, redis-py and Flask: psycopg would keep its blocking C wait
    and module-level locks made before the patch would be real ones (a greenlet waiting on
    one blocks its whole worker). Patched here, the master forks workers that are patched
    from their first import (dashboard/serve.py). Not os and signal in the master: gevent would
    run gunicorn's SIGCHLD handler in a greenlet, which swallows its "worker failed to boot"
    (the master then never exits); each worker patches those too (gunicorn's patch_all, whose
    warning that it patches "more than once" is this)."""
    words = [word for word in argv if not word.startswith("-")]
    if not words or words[0] != "serve":
        return
    worker_class = None
    for k, word in enumerate(argv):
        if word == "--worker-class" and k + 1 < len(argv):
            worker_class = argv[k + 1]
        elif word.startswith("--worker-class="):
            worker_class = word.split("=", 1)[1]
    if (worker_class or settings_module.load().serve_worker_class) == "gevent":
        from gevent import monkey

        monkey.patch_all(os=False, signal=False)


def main(argv: list[str] | None = None) -> int:
    patch_for_gevent(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    tune_gc()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
