"""Planting tickets straight into the database (fast, no lifecycle): for map,
hotspot and early-warning tests that need weeks of background."""
from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from tickets.models import Ticket, Unit

_serial = itertools.count(1)


def unit_ids(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Unit.code, Unit.id)).all())


def ticket_row(at: datetime, lat: float | None, lon: float | None, topic: str = "noise", *,
               district: str | None = "历下区", unit_id: int | None = None, status: str = "dispatched") -> dict[str, Any]:
    n = next(_serial)
    return {
        "number": f"PL{n:010d}", "channel": "hotline_12345", "kind": "complaint", "sla_class": "service",
        "topic": topic, "title": "测试", "content": "测试内容", "district": district, "lat": lat, "lon": lon,
        "citizen_name": "张三", "citizen_phone": "13812345678", "status": status, "unit_id": unit_id,
        "received_at": at, "escalation_level": 1, "redo_count": 0, "extension_pending": False,
    }


def plant(session: Session, rows: Iterable[dict[str, Any]]) -> int:
    rows = list(rows)
    if rows:
        session.execute(insert(Ticket), rows)
    return len(rows)
