"""Command line for the audit log (wired into ``app.py``; the log itself: ``tickets.audit``).

    python app.py audit verify     walk the hash chain; the first broken row and exit 1, if any
    python app.py audit list [--actor NAME] [--ticket NUMBER] [--action ACTION]
                             [--since TIME] [--until TIME] [--limit N]
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tickets.sla_cli import _aware_datetime


def add_commands(sub: Any) -> None:
    """Add the ``audit`` command to ``app.py``'s subparsers."""
    from tickets.audit import ACTIONS

    parser = sub.add_parser("audit", help="the audit log: verify its hash chain, list its rows")
    audit_sub = parser.add_subparsers(dest="action", required=True)
    verify = audit_sub.add_parser("verify", help="walk the hash chain; exit 1 at the first broken row")
    verify.set_defaults(func=cmd_audit_verify)
    listing = audit_sub.add_parser("list", help="rows, oldest first, filtered by person, ticket, action, time")
    listing.add_argument("--actor", help="who acted: a username, system, cli:<user>")
    listing.add_argument("--ticket", help="a ticket's number")
    listing.add_argument("--action", dest="what", choices=ACTIONS, help="what was done")
    listing.add_argument("--since", type=_aware_datetime, help="from this time (ISO 8601 with its offset)")
    listing.add_argument("--until", type=_aware_datetime, help="before this time (ISO 8601 with its offset)")
    listing.add_argument("--limit", type=int, default=1000, help="at most this many rows (the newest)")
    listing.set_defaults(func=cmd_audit_list)


def _factory() -> Any:
    import settings as settings_module
    from tickets.bootstrap import session_factory

    cfg = settings_module.load()
    return session_factory(cfg.database_url, cfg), cfg


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from tickets import audit

    factory, _cfg = _factory()
    with factory() as session:
        checked, broken = audit.verify(session)
        if broken is not None:
            why = "its content was changed" if broken.reason == "hash" \
                else "a row before it was changed, removed or moved"
            print(f"audit chain broken at row {broken.id} ({why}); {checked} row(s) before it are intact",
                  file=sys.stderr)
            return 1
        head = session.scalar(audit.head_hash_query())
    print(f"audit chain intact: {checked} row(s); newest hash {head or audit.GENESIS}")
    return 0


def cmd_audit_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from tickets import audit
    from tickets.models import AuditEntry

    factory, cfg = _factory()
    stmt = audit.filtered(select(AuditEntry), actor=args.actor, ticket=args.ticket, action=args.what,
                          since=args.since, until=args.until)
    with factory() as session:
        found = list(session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(max(args.limit, 1))))
    for row in reversed(found):
        print(f"{row.id:>7}  {row.at.astimezone(cfg.tz).isoformat(timespec='seconds')}  {row.actor:<16} "
              f"{row.action:<18} {row.ticket or '-':<20} {row.target or '-'}  "
              f"{json.dumps(row.details, ensure_ascii=False, sort_keys=True)}")
    return 0
