"""Small builders shared by the tests (no fixtures here: see conftest.py)."""
from __future__ import annotations

import itertools
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tickets.bootstrap import session_factory
from tickets.uow import unit_of_work
from tickets import services
from tickets.intake import NewRequest
from tickets.models import Ticket, Unit
from tickets.schema import upgrade
from tickets.units import load_bureau

TZ = ZoneInfo("Asia/Shanghai")
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
_serial = itertools.count(1)


def bureau_database(url: str, bureau: str = "jinan_bureau.yaml", **overrides: Any) -> sessionmaker[Session]:
    """A database at ``url``, migrated, with a bureau from examples/ loaded; ``overrides`` go into
    the domain's configuration (``tz=`` the bureau's zone …)."""
    upgrade(url)
    factory = session_factory(url, **overrides)
    with unit_of_work(factory) as s:
        load_bureau(s, EXAMPLES / bureau)
    return factory


def add_small_bureau(factory: sessionmaker[Session]) -> None:
    """A city bureau, one branch for 历下区 with two stations, and the platform office."""
    with unit_of_work(factory) as s:
        city = Unit(code="JN", name="济南市公安局", level=1, kind="bureau", topics=[])
        office = Unit(code="JN-PTB", name="民生警务平台办公室", level=2, kind="platform_office", parent=city, topics=[])
        branch = Unit(code="JN-LX", name="历下分局", level=2, kind="branch", district="历下区", parent=city, topics=[])
        s.add_all([
            city, office, branch,
            Unit(code="JN-LX-01", name="泉城路派出所", level=3, kind="station", district="历下区",
                 parent=branch, lat=36.664, lon=117.020, topics=[]),
            Unit(code="JN-LX-02", name="甸柳新村派出所", level=3, kind="station", district="历下区",
                 parent=branch, lat=36.668, lon=117.062, topics=[]),
        ])


def new_request(
    at: datetime | None = None, *, channel: str = "hotline_12345", topic: str = "noise",
    external_id: str | None = None, lat: float = 36.665, lon: float = 117.03,
    phone: str = "13812345678", district: str = "历下区", sla_class: str = "service",
) -> NewRequest:
    return NewRequest(
        channel=channel,
        external_id=external_id or f"T-{next(_serial)}",
        received_at=at or datetime.now(timezone.utc),
        kind="complaint",
        topic=topic,
        sla_class=sla_class,
        title="楼下烧烤店噪音扰民",
        content="历下区泉城路附近烧烤店每晚营业到凌晨，噪音很大，请求处理。",
        district=district,
        lat=lat,
        lon=lon,
        citizen_name="张三",
        citizen_phone=phone,
    )


def submit(factory: sessionmaker[Session], request: NewRequest, now: datetime | None = None) -> Ticket:
    with unit_of_work(factory) as s:
        return services.receive_one(s, request, now=now or request.received_at)


def outbox_events(session: Session) -> list[dict[str, Any]]:
    """Every ticket event payload in the outbox, in order (a bulk write's message carries several)."""
    from tickets.events import event_payloads
    from tickets.models import OutboxMessage

    return [e for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
            for e in event_payloads(m.topic, m.payload)]


class LockPerThread:
    """Stands in for ``tickets.uow``'s process intake lock where threads play separate
    platform processes (each with its own engine): every thread gets a lock of its own, as
    every process has, so only the database's intake lock stands between them."""

    def __init__(self) -> None:
        self._mine = threading.local()

    def _lock(self) -> threading.Lock:
        if not hasattr(self._mine, "lock"):
            self._mine.lock = threading.Lock()
        return self._mine.lock

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._lock().acquire(blocking, timeout)

    def release(self) -> None:
        self._lock().release()
