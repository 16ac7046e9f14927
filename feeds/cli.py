"""``python app.py intake …``: file channels, and the dead letters every channel leaves.

    intake cad110 FILE.csv [--crs gcj02] [--dry-run]   the 110 dispatch export
    intake eml DIR_OR_FILE [--dry-run]                  director's mailbox .eml files
    intake dead-letters [--channel C] [--limit N]       refused records and why
    intake deliveries                                   results owed to the 12345 platforms
"""
from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path


def _factory(cfg: object) -> object:
    from tickets.bootstrap import session_factory

    return session_factory(cfg.database_url, cfg)  # type: ignore[attr-defined]


def cmd_intake(args: argparse.Namespace) -> int:
    import settings as settings_module

    cfg = settings_module.load()
    factory = _factory(cfg)
    if args.action == "cad110":
        from feeds import cad110

        crs = args.crs or cfg.cad110_crs
        try:
            report = cad110.import_file(factory, Path(args.file), tz=cfg.tz, crs=crs,  # type: ignore[arg-type]
                                        dry_run=args.dry_run)
        except (OSError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        for line, errors in report.refused:
            print(f"  line {line}: " + "; ".join(f"{e.field}: {e.message}" for e in errors))
        print(("DRY RUN (nothing stored): " if args.dry_run else "") + report.summary())
        return 0
    if args.action == "eml":
        return _eml(cfg, factory, Path(args.path), args.dry_run)
    if args.action == "dead-letters":
        return _dead_letters(factory, args.channel, args.limit, args.lang or cfg.language)
    if args.action == "deliveries":
        return _deliveries(factory)
    return 2


def _eml(cfg: object, factory: object, path: Path, dry_run: bool) -> int:
    from collections import Counter

    from feeds import mailbox
    from tickets.uow import unit_of_work

    if not path.exists():
        print(f"error: {path} does not exist", file=sys.stderr)
        return 1
    counts: Counter[str] = Counter()
    for file in mailbox.eml_files(path):
        with unit_of_work(factory) as session:  # type: ignore[arg-type]
            outcome = mailbox.import_eml(session, file, now=datetime.now(UTC), tz=cfg.tz)  # type: ignore[attr-defined]
            number = outcome.ticket.number if outcome.ticket else ""
            if dry_run:
                session.rollback()
        counts[outcome.status] += 1
        detail = number or "; ".join(f"{e.field}: {e.message}" for e in outcome.errors)
        print(f"  {file.name}: {outcome.status} {detail}")
    print(("DRY RUN (nothing stored): " if dry_run else "")
          + f"{sum(counts.values())} files: {counts['accepted']} new tickets, {counts['merged']} merged, "
            f"{counts['duplicate']} already in, "
            f"{counts['rejected']} refused (dead letters)")
    return 0


def _dead_letters(factory: object, channel: str | None, limit: int, lang: str) -> int:
    from sqlalchemy import select

    from feeds import import_reasons
    from tickets.models import DeadLetter

    with factory() as session:  # type: ignore[operator]
        query = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)
        if channel:
            query = query.where(DeadLetter.channel == channel)
        for d in session.scalars(query):
            # A coded reason (the import's) in the language asked for; another as it was stored.
            reasons = "; ".join(f"{e.get('field')}: {import_reasons.text(e, lang)}" for e in d.errors)
            print(f"{d.id:>6} {d.received_at.isoformat(timespec='seconds')} {d.channel:<16} {d.status:<11} "
                  f"{d.source[:40]:<40} {d.external_id or '-':<24} {reasons[:200]}")
    return 0


def _deliveries(factory: object) -> int:
    from sqlalchemy import func, select

    from tickets.models import ConnectorDelivery

    with factory() as session:  # type: ignore[operator]
        rows = session.execute(select(ConnectorDelivery.connector, ConnectorDelivery.status, func.count())
                               .group_by(ConnectorDelivery.connector, ConnectorDelivery.status)).all()
    for connector, status, n in rows:
        print(f"{connector:<20} {status:<8} {n}")
    if not rows:
        print("no result deliveries")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    intake = sub.add_parser("intake", help="file channels (110 export, mailbox .eml), dead letters")
    actions = intake.add_subparsers(dest="action", required=True)
    cad = actions.add_parser("cad110", help="import the 110 dispatch system's CSV export")
    cad.add_argument("file", metavar="FILE.csv")
    cad.add_argument("--crs", choices=["wgs84", "gcj02", "bd09"], help="coordinate system of 经度/纬度 "
                     "(default: the cad110_crs setting)")
    cad.add_argument("--dry-run", action="store_true", help="check and report, store nothing")
    eml = actions.add_parser("eml", help="import director's-mailbox letters exported as .eml")
    eml.add_argument("path", metavar="DIR_OR_FILE")
    eml.add_argument("--dry-run", action="store_true", help="check and report, store nothing")
    dead = actions.add_parser("dead-letters", help="list refused records with their reasons")
    dead.add_argument("--channel")
    dead.add_argument("--limit", type=int, default=50)
    dead.add_argument("--lang", choices=["zh-CN", "en"], help="the language of the import's reasons "
                      "(default: the language setting)")
    actions.add_parser("deliveries", help="results owed to the 12345 platforms, by status")
    intake.set_defaults(func=cmd_intake)
