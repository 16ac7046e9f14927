"""The unit tree as the platform office sees it: every unit, its open tickets, who takes which topic."""
from __future__ import annotations

from typing import Any

import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from geo import jurisdictions, maps
from tickets import units as unit_rules
from tickets.models import JurisdictionUpload, Unit
from tickets.vocabulary import TOPICS


def tree(session: Session) -> list[dict[str, Any]]:
    """Every unit, depth first (a parent before its children, children by code), as plain rows."""
    held = unit_rules.open_counts(session)
    rows = list(session.scalars(select(Unit).order_by(Unit.level, Unit.code)))
    by_parent: dict[int | None, list[Unit]] = {}
    for unit in rows:
        by_parent.setdefault(unit.parent_id, []).append(unit)
    codes = {u.id: u.code for u in rows}
    out: list[dict[str, Any]] = []

    def walk(parent: int | None) -> None:
        for u in by_parent.get(parent, []):
            out.append({"code": u.code, "name": u.name, "name_en": u.name_en, "level": u.level, "kind": u.kind,
                        "parent": codes.get(u.parent_id) if u.parent_id else None, "active": bool(u.active),
                        "district": u.district, "topics": list(u.topics or []), "open": held.get(u.id, 0)})
            walk(u.id)

    walk(None)
    return out


def topic_owners(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each topic and the active units that take it (routing by topic); none: by place."""
    return [{"topic": topic, "owners": [r["code"] for r in rows if r["active"] and topic in r["topics"]]}
            for topic in TOPICS]


def open_tickets(session: Session, code: str) -> list[dict[str, Any]]:
    """The preview before a deactivation: the open tickets the unit holds (public fields only)."""
    return [{"number": t.number, "status": t.status, "topic": t.topic, "received_at": t.received_at.isoformat(),
             "resolve_due_at": t.resolve_due_at.isoformat() if t.resolve_due_at else None}
            for t in unit_rules.open_tickets(session, code)]


def jurisdiction_report(found: jurisdictions.JurisdictionSet, upload_id: int | None = None) -> dict[str, Any]:
    """``geo check``'s report of a checked file, as the page shows it (its map: :func:`jurisdiction_map`)."""
    report = found.report
    return {
        "id": upload_id, "ok": report.ok, "features": report.features, "units": report.units,
        "area_km2": round(report.area_km2, 2), "errors": len(report.errors), "warnings": len(report.warnings),
        "problems": [{"kind": p.kind, "severity": p.severity, "message": p.message, "units": list(p.units),
                      "area_km2": None if p.area_km2 is None else round(p.area_km2, 4),
                      "at": list(p.at) if p.at else None} for p in report.problems],
        "map": f"/api/v1/admin/units/jurisdictions/{upload_id}/map" if upload_id is not None and len(found) else None,
    }


def jurisdiction_map(session: Session, upload_id: int) -> str | None:
    """The map of an uploaded file (None: no such upload): its polygons, and its problems' places."""
    upload = session.get(JurisdictionUpload, upload_id)
    if upload is None:
        return None
    stations = list(session.scalars(select(Unit.code).where(Unit.kind == "station", Unit.active.is_(True))))
    found = jurisdictions.load_text(upload.geojson, upload.name, stations)
    return _map(found, found.report) or ""


def jurisdiction_uploads(session: Session, limit: int = 5) -> list[dict[str, Any]]:
    """The latest uploaded jurisdiction files and what became of them."""
    return [{"id": u.id, "name": u.name, "status": u.status, "errors": u.errors, "checked_by": u.checked_by,
             "checked_at": u.checked_at.isoformat(), "decided_at": u.decided_at.isoformat() if u.decided_at else None}
            for u in session.scalars(select(JurisdictionUpload).order_by(JurisdictionUpload.id.desc()).limit(limit))]


def _map(found: jurisdictions.JurisdictionSet, report: jurisdictions.ValidationReport) -> str | None:
    """The checked polygons over the district boundaries on a small offline map (geo/maps.py), each
    problem with a place (an overlap, a gap, an unknown station) a hot spot on it."""
    if not len(found):
        return None
    west, south, east, north = shapely.union_all([j.geometry for j in found]).bounds
    problems = [(p.at[0], p.at[1], 1.0) for p in report.problems if p.at is not None]
    spec = maps.MapSpec(points=problems, jurisdictions=found, focus=(south, west, north, east), heat_radius=22)
    return maps.render_html(maps.build_map(spec))
