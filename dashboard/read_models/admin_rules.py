"""Reads of /admin/rules: the versions of the deadline rules, and a draft's re-judged week.

The versions are read from the table (not this process's cache, which may be minutes old);
while none is stored, version 1 is the policy file's rules, shown as such.
"""
from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tickets import sla, sla_versions
from tickets.models import SlaRuleVersion


def versions(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Every version, in the order they take effect, each with its ``state``: ``past``, ``in_force``
    (the one that applies to a ticket dispatched now), ``pending`` (its instant is to come) or
    ``withdrawn`` (before its instant: it never applied)."""
    rows = list(session.scalars(select(SlaRuleVersion)))
    items: list[dict[str, Any]]
    if rows:
        items = [{"number": r.number, "effective_from": r.effective_from, "created_by": r.created_by,
                  "created_at": r.created_at, "note": r.note, "fingerprint": r.fingerprint, "rules": r.rules,
                  "stored": True, "withdrawn_at": r.withdrawn_at, "withdrawn_by": r.withdrawn_by} for r in rows]
    else:
        book = sla.file_policy()
        items = [{"number": 1, "effective_from": None, "created_by": "", "created_at": None,
                  "note": Path(book.source).name, "fingerprint": book.fingerprint, "rules": sla.to_document(book),
                  "stored": False, "withdrawn_at": None, "withdrawn_by": None}]
    items.sort(key=lambda v: (v["effective_from"] is not None, v["effective_from"] or now, v["number"]))
    current = 0
    for i, item in enumerate(items):
        if item["withdrawn_at"] is None and (item["effective_from"] is None or item["effective_from"] <= now):
            current = i
    for i, item in enumerate(items):
        item["state"] = ("withdrawn" if item["withdrawn_at"] is not None else "in_force" if i == current else
                         "past" if i < current else "pending")
        for key in ("effective_from", "created_at", "withdrawn_at"):
            item[key] = item[key].isoformat() if item[key] else None
    return items


def last_made(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The last version made and not withdrawn: the one a new version follows and starts from."""
    return [v for v in items if v["state"] != "withdrawn"][-1]


def preview(session: Session, rules: Any, now: datetime, tz: Any, week: str | None = None) -> dict[str, Any]:
    """Last week's tickets (or ``week``'s) under the rules each had and under the draft ``rules``
    (:class:`tickets.errors.Invalid` if they do not validate), per branch, as plain JSON."""
    draft = sla_versions.parse_draft(rules)
    result = sla_versions.rejudge(session, draft, week or sla_versions.last_week(now, tz), now, tz)

    def row(r: sla_versions.Row) -> dict[str, Any]:
        return {"code": r.code, "name": r.name,
                "before": {**asdict(r.before), "on_time_rate": r.before.on_time_rate},
                "after": {**asdict(r.after), "on_time_rate": r.after.on_time_rate}}

    return {"week": result.week, "as_of": result.as_of.isoformat(), "total": row(result.total),
            "branches": [row(r) for r in result.branches]}
