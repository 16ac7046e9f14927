"""110接处警: importing the dispatch system's CSV export (``python app.py intake cad110 FILE``).

The export's columns (header row, any order; extra columns are kept, not used):

    接警单号   the CAD incident number, e.g. 370102202611230001 (the external id)    required
    报警时间   yyyy-MM-dd HH:mm:ss, local time without a zone (read in the configured zone)  required
    报警人     caller's name
    联系电话   caller's number
    案发地址   incident address (text)
    经度, 纬度 longitude, latitude in the export's coordinate system (settings.cad110_crs or --crs)
    警情类别   刑事 治安 交通 纠纷 求助 举报 投诉 咨询 火灾 其他                       required
    警情细类   the sub-category in words, e.g. 盗窃电动车, 噪音扰民
    简要警情   what the caller said                                                 required

Files come in UTF-8 (with or without BOM) or GB18030 (what Excel on a Chinese
Windows writes). Rows commit in batches; a re-run of the same file skips what
is in (idempotent on 接警单号) and does not repeat a dead letter for a row it
already refused, so an import that crashed is simply run again.
"""
from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from feeds.common import MAX_ADDRESS, MAX_CONTENT, MAX_NAME, Draft, Outcome, hand_in, refuse
from feeds.dead_letters import FieldError, Rejected
from feeds.topics import topic_of
from tickets.uow import UnitOfWork, unit_of_work
from tickets.intake import NewRequest
from tickets.models import DeadLetter

CHANNEL = "cad_110"
COLUMNS = ("接警单号", "报警时间", "报警人", "联系电话", "案发地址", "经度", "纬度", "警情类别", "警情细类", "简要警情")
REQUIRED = ("接警单号", "报警时间", "警情类别", "简要警情")
# 警情类别 → (kind, topic when the text does not tell)
CATEGORIES: dict[str, tuple[str, str]] = {
    "刑事": ("report", "other"), "治安": ("report", "other"), "交通": ("help", "traffic"),
    "纠纷": ("help", "dispute"), "求助": ("help", "other"), "举报": ("report", "other"),
    "投诉": ("complaint", "other"), "咨询": ("consultation", "other"), "火灾": ("help", "other"),
    "其他": ("help", "other"),
}
BATCH = 200


def read_rows(path: Path) -> tuple[list[str], Iterator[dict[str, str]]]:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValueError(f"{path}: neither UTF-8 nor GB18030")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ValueError(f"{path}: the header lacks {', '.join(missing)}; expected columns: {', '.join(COLUMNS)}")
    return header, iter(reader)


def parse_row(row: dict[Any, Any], *, tz: Any, crs: str = "wgs84") -> NewRequest:
    draft = Draft(CHANNEL, tz)
    if None in row:  # more cells than header columns
        draft.error("(row)", f"has {len(row[None]) if isinstance(row[None], list) else 1} cells more than the header")
    for column in REQUIRED:
        if not (row.get(column) or "").strip():
            draft.error(column, "is required and missing or empty")
    number = (row.get("接警单号") or "").strip()
    if number:
        if len(number) > 60 or not number.replace("-", "").isalnum():
            draft.error("接警单号", f"{number[:70]!r} is not an incident number (letters and digits)")
        else:
            draft.external_id = number
    received = draft.local_time("报警时间", row.get("报警时间"), required=False)
    name = draft.text("报警人", row.get("报警人"), max_len=MAX_NAME)
    phone = draft.phone("联系电话", row.get("联系电话"))
    address = draft.text("案发地址", row.get("案发地址"), max_len=MAX_ADDRESS)
    point = draft.point(row.get("纬度"), row.get("经度"), crs, lat_name="纬度", lon_name="经度")
    category = (row.get("警情类别") or "").strip()
    kind, fallback_topic = "help", "other"
    if category:
        if category not in CATEGORIES:
            draft.error("警情类别", f"{category!r} is not one of: {' '.join(CATEGORIES)}")
        else:
            kind, fallback_topic = CATEGORIES[category]
    sub = draft.text("警情细类", row.get("警情细类"), max_len=50)
    text = draft.text("简要警情", row.get("简要警情"), max_len=MAX_CONTENT)
    if draft.errors:
        raise Rejected(draft.errors, external_id=number or None)
    topic = topic_of(f"{sub or ''} {text or ''}")
    if topic == "other":
        topic = fallback_topic
    title = f"{category}警情：{sub}" if sub else f"{category}警情"
    raw = {"row": row, "crs": crs}
    return draft.build(received_at=received, title=title, content=text or "", kind=kind, topic=topic,
                       address=address, point=point, citizen_name=name, citizen_phone=phone, raw=raw)


@dataclass
class ImportReport:
    file: str
    rows: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    refused: list[tuple[int, list[FieldError]]] = field(default_factory=list)

    def summary(self) -> str:
        c = self.counts
        return (f"{self.file}: {self.rows} rows: {c['accepted']} new tickets, {c['merged']} merged into open "
                f"tickets, {c['duplicate']} already in, {c['rejected']} refused (dead letters)")


def import_file(factory: sessionmaker[UnitOfWork], path: Path, *, tz: Any, crs: str = "wgs84",
                now: Callable[[], datetime] | None = None, dry_run: bool = False,
                batch: int = BATCH) -> ImportReport:
    """Import every row; every row is accounted for: a ticket, already in, or a dead letter."""
    clock = now or (lambda: datetime.now(UTC))
    _, rows = read_rows(path)
    report = ImportReport(str(path))
    pending: list[tuple[int, dict[str, str]]] = []

    def flush() -> None:
        if not pending:
            return
        with unit_of_work(factory) as session:
            for line, row in pending:
                outcome = _one(session, path, line, row, tz, crs, clock())
                report.counts[outcome.status] += 1
                if outcome.status == "rejected":
                    report.refused.append((line, list(outcome.errors)))
            if dry_run:
                session.rollback()
        pending.clear()

    for line, row in enumerate(rows, start=2):  # line 1 is the header
        report.rows += 1
        pending.append((line, row))
        if len(pending) >= batch:
            flush()
    flush()
    return report


def _one(session: UnitOfWork, path: Path, line: int, row: dict[str, str], tz: Any, crs: str,
         now: datetime) -> Outcome:
    try:
        request = parse_row(row, tz=tz, crs=crs)
    except Rejected as exc:
        source = f"{path.name}:{line}"
        text = json.dumps(row, ensure_ascii=False)
        known = session.scalar(select(DeadLetter.id).where(DeadLetter.channel == CHANNEL, DeadLetter.source == source,
                                                           DeadLetter.payload == text).limit(1))
        if known is not None:
            return Outcome("rejected", dead_letter_id=known, errors=tuple(exc.errors), external_id=exc.external_id)
        return refuse(session, CHANNEL, source, text, exc)
    return hand_in(session, request, now)
