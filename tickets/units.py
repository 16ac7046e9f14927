"""Load a bureau's units (三级架构) from a YAML file into the database.

The unit tree is data, not code: a bureau edits its YAML file and loads it
again. The whole file is checked before anything is written, and every problem
is reported at once, so one run tells the administrator everything to fix.
Loading is an upsert by ``code`` and idempotent. Units missing from the file
are left alone (tickets and users still point at them) and only reported.
See examples/jinan_bureau.yaml for the format.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
import yaml
from shapely.geometry import Point
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo import jurisdictions
from geo.districts import JIAXIANG_FILE, JINAN_FILE, District, district_at, load_districts
from tickets import audit, events
from tickets.administration import require_admin
from tickets.dispatch import forget_topic_owners
from tickets.errors import Conflict, IllegalStep, Invalid, NotFound
from tickets.models import JurisdictionUpload, Ticket, Unit, could_be, utcnow
from tickets.roles import Actor
from tickets.uow import UnitOfWork
from tickets.vocabulary import OPEN_STATUSES, TOPICS

KINDS = frozenset(
    {"bureau", "platform_office", "branch", "county_bureau", "division", "station", "team", "section"}
)
FIELDS = frozenset({"code", "name", "name_en", "kind", "district", "topics", "lat", "lon", "children"})
MAX_LEVEL = 3
# Column widths of the Unit model: PostgreSQL enforces them, SQLite does not.
MAX_LEN = {"code": 32, "name": 64, "name_en": 128, "kind": 32, "district": 32}
BOUNDARY_FILES = (JINAN_FILE, JIAXIANG_FILE)


class BureauFileError(ValueError):
    """The file cannot be loaded; ``problems`` lists every reason, one per line."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: {len(problems)} problem(s):\n" + "\n".join(problems))


@dataclass
class LoadReport:
    """What a load did, by unit code."""

    path: Path
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # In the database but not in the file: left as they are.
    not_in_file: list[str] = field(default_factory=list)
    # Not errors, but worth knowing, e.g. a district no boundary file knows.
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.path.name}: {len(self.created)} created, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.not_in_file)} in the database but not in the file"
        )


@dataclass
class _Row:
    """One unit of the file, flattened, with what depth and inheritance imply."""

    code: str
    where: str  # position in the file, for messages: "JN-LX.children[0]"
    values: dict[str, Any]  # the Unit columns to set
    parent_code: str | None


def load_bureau(
    session: Session, path: Path, boundary_files: Sequence[Path] = BOUNDARY_FILES
) -> LoadReport:
    """Validate the bureau file, then upsert its units by code.

    Flushes but does not commit: the caller owns the transaction. Raises
    BureauFileError, listing every problem, before changing anything.
    """
    path = Path(path)
    districts: dict[str, District] = {}
    for boundary in boundary_files:
        districts.update(load_districts(boundary))
    rows, warnings = _read(path, districts)

    report = LoadReport(path=path, warnings=warnings)
    existing = {u.code: u for u in session.scalars(select(Unit))}
    units: dict[str, Unit] = {}
    for row in rows:  # parents come before their children
        parent = units[row.parent_code] if row.parent_code else None
        unit = existing.get(row.code)
        if unit is None:
            unit = Unit(code=row.code, parent=parent, **row.values)
            session.add(unit)
            report.created.append(row.code)
        else:
            changes: dict[str, Any] = {k: v for k, v in row.values.items() if getattr(unit, k) != v}
            if unit.parent is not parent:
                changes["parent"] = parent
            for key, value in changes.items():
                setattr(unit, key, value)
            (report.updated if changes else report.unchanged).append(row.code)
        units[row.code] = unit
    session.flush()
    report.not_in_file = sorted(set(existing) - set(units))
    forget_topic_owners()
    return report


def _read(path: Path, districts: Mapping[str, District]) -> tuple[list[_Row], list[str]]:
    """Parse and check the file; all problems at once in BureauFileError."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise BureauFileError(path, [f"cannot read: {exc}"]) from exc
    if not isinstance(data, dict) or not isinstance(data.get("bureau"), dict):
        raise BureauFileError(path, ["the file must have a top-level `bureau:` mapping"])

    problems: list[str] = []
    warnings: list[str] = []
    rows: list[_Row] = []
    seen: dict[str, str] = {}  # code -> where first seen

    def walk(node: Any, where: str, level: int, parent: _Row | None) -> None:
        if not isinstance(node, dict):
            problems.append(f"{where}: a unit must be a mapping, got {node!r}")
            return
        code = node.get("code")
        label = f"{code} ({where})" if code else where
        bad = [f"{label}: {p}" for p in _check_unit(node, level)]
        if not isinstance(code, str) or not code.strip():
            bad.append(f"{where}: missing code")
        elif code in seen:
            bad.append(f"{label}: duplicate code, also at {seen[code]}")
        else:
            seen[code] = where
        problems.extend(bad)

        district = node.get("district", parent.values["district"] if parent else None)
        if isinstance(district, str) and district not in districts and "district" in node:
            warnings.append(f"{label}: no boundary file knows district {district!r}; "
                            "its stations' coordinates were not checked")
        row = _Row(
            code=str(code),
            where=where,
            values={
                "name": node.get("name"),
                "name_en": node.get("name_en"),
                "level": level,
                "kind": node.get("kind"),
                "district": district,
                "topics": list(node.get("topics") or []),
                "lat": _float(node.get("lat")),
                "lon": _float(node.get("lon")),
            },
            parent_code=parent.code if parent else None,
        )
        if not bad:
            rows.append(row)
        children = node.get("children") or []
        if not isinstance(children, list):
            problems.append(f"{label}: children must be a list")
            return
        for i, child in enumerate(children):
            walk(child, f"{code or where}.children[{i}]", level + 1, row)

    walk(data["bureau"], "bureau", 1, None)
    # Polygon tests last, on well-formed units only, with their final district.
    for row in rows:
        problems.extend(_check_place(row, districts))
    if problems:
        raise BureauFileError(path, problems)
    return rows, warnings


def _check_unit(node: dict[str, Any], level: int) -> list[str]:
    """What is wrong with one unit on its own (no tree, no geometry)."""
    out = []
    unknown = set(node) - FIELDS
    if unknown:
        out.append(f"unknown field(s) {', '.join(sorted(map(str, unknown)))} "
                   f"(allowed: {', '.join(sorted(FIELDS))})")
    if not isinstance(node.get("name"), str) or not node["name"].strip():
        out.append("missing name")
    kind = node.get("kind")
    if kind not in KINDS:
        out.append(f"unknown kind {kind!r} (one of: {', '.join(sorted(KINDS))})")
    if level > MAX_LEVEL:
        out.append(f"level {level}: the unit tree has {MAX_LEVEL} levels at most")
    if "district" in node and not isinstance(node["district"], str):
        out.append(f"district {node['district']!r} is not a name")
    for key, limit in MAX_LEN.items():
        value = node.get(key)
        if isinstance(value, str) and len(value) > limit:
            out.append(f"{key} longer than {limit} characters")
    topics = node.get("topics") or []
    if not isinstance(topics, list):
        out.append("topics must be a list")
    else:
        unknown_topics = [t for t in topics if t not in TOPICS]
        if unknown_topics:
            out.append(f"unknown topic(s) {unknown_topics} (one of: {', '.join(TOPICS)})")
    for key, low, high in (("lat", -90, 90), ("lon", -180, 180)):
        value = node.get(key)
        if value is not None and (_float(value) is None or not low <= float(value) <= high):
            out.append(f"{key} {value!r} is not a coordinate")
    if kind == "station" and (node.get("lat") is None or node.get("lon") is None):
        out.append("station without lat/lon")
    return out


def _check_place(row: _Row, districts: Mapping[str, District]) -> list[str]:
    """A station must lie inside its district when a boundary file knows it."""
    v = row.values
    if v["kind"] != "station" or v["lat"] is None or v["lon"] is None:
        return []
    district = districts.get(v["district"] or "")
    if district is None:
        return []
    if shapely.covers(district.geometry, Point(v["lon"], v["lat"])):
        return []
    actual = district_at(v["lat"], v["lon"], districts)
    return [f"{row.code} ({row.where}): station at ({v['lat']}, {v['lon']}) lies outside its district "
            f"{district.name} ({'in ' + actual if actual else 'in no known district'})"]


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------- the platform office's commands (issue 19)
# Each checks the actor is an admin, makes the change and writes its audit row in the caller's
# transaction, and announces it on the outbox (``UNITS_TOPIC``): the live path re-reads the tree
# (dashboard/live/aggregator.py). Scope is read from the tree on every login check (the gate's
# cache lives CACHE_SECONDS), so a moved unit takes its subtree's scope with it at once.

UNITS_TOPIC = "units"
# Which kinds a unit of each level may be (the three-level structure, 三级架构).
LEVEL_KINDS: dict[int, frozenset[str]] = {
    1: frozenset({"bureau"}),
    2: frozenset({"platform_office", "branch", "county_bureau", "division"}),
    3: frozenset({"station", "team", "section"}),
}


_admin = require_admin  # (actor, step): 403 unless an admin or the platform itself


def unit_by_code(session: Session, code: str) -> Unit:
    unit = session.scalar(select(Unit).where(Unit.code == code)) if could_be(code, Unit.__table__.c.code) else None
    if unit is None:
        raise NotFound("unknown_unit", unit=code)
    return unit


def _changed(session: UnitOfWork, actor: Actor, action: str, unit: Unit, details: dict[str, Any]) -> None:
    session.flush()
    audit.record(session, actor.name, action, target=unit.code, details=details)
    events.announce(session, UNITS_TOPIC, {"event": "units", "action": action, "unit_code": unit.code,
                                           "at": utcnow().isoformat()})


def forget_unit_caches() -> None:
    """This process's caches of the tree (routing, live intake's routes); call after the change commits."""
    from tickets import batch  # (it routes through tickets.dispatch, as this module does)

    forget_topic_owners()
    batch.forget_units()


def _text(value: str | None, field: str, most: int) -> str:
    text = (value or "").strip()
    if not text:
        raise Invalid("missing_parameter", field=field)
    if len(text) > most:
        raise Invalid("text_too_long", field=field, most=most)
    return text


def add_unit(session: UnitOfWork, actor: Actor, *, code: str, name: str, kind: str, parent_code: str,
             name_en: str | None = None, lat: float | None = None, lon: float | None = None) -> Unit:
    """A new unit under ``parent_code``, one level below it; its district is its parent's."""
    _admin(actor, "add_unit")
    code = _text(code, "code", MAX_LEN["code"])
    name = _text(name, "name", MAX_LEN["name"])
    parent = unit_by_code(session, parent_code)
    level = parent.level + 1
    if level > MAX_LEVEL:
        raise Invalid("unit_too_deep", unit=parent.code, most=MAX_LEVEL)
    if kind not in LEVEL_KINDS[level]:
        raise Invalid("unit_kind_level", kind=kind, level=level, allowed=sorted(LEVEL_KINDS[level]))
    if not parent.active:
        raise Invalid("unit_inactive", unit=parent.code)
    if session.scalar(select(Unit.id).where(Unit.code == code)) is not None:
        raise Conflict("unit_exists", unit=code)
    unit = Unit(code=code, name=name, name_en=(name_en or "").strip()[:MAX_LEN["name_en"]] or None, level=level,
                kind=kind, parent=parent, district=parent.district, topics=[], lat=lat, lon=lon, active=True)
    session.add(unit)
    _changed(session, actor, "unit_add", unit, {"parent": parent.code, "kind": kind, "name": name})
    return unit


def rename_unit(session: UnitOfWork, actor: Actor, code: str, name: str, name_en: str | None = None) -> Unit:
    _admin(actor, "rename_unit")
    unit = unit_by_code(session, code)
    name = _text(name, "name", MAX_LEN["name"])
    before = unit.name
    unit.name = name
    if name_en is not None:
        unit.name_en = name_en.strip()[:MAX_LEN["name_en"]] or None
    _changed(session, actor, "unit_rename", unit, {"from": before, "to": name})
    return unit


def move_unit(session: UnitOfWork, actor: Actor, code: str, parent_code: str) -> Unit:
    """The unit, with its subtree, under another parent of the level above it (a station to
    another branch): everyone's scope follows the tree, and so do its tickets' figures."""
    _admin(actor, "move_unit")
    unit = unit_by_code(session, code)
    parent = unit_by_code(session, parent_code)
    if unit.parent is None:
        raise Invalid("unit_is_root", unit=unit.code)
    if parent.level != unit.level - 1:
        raise Invalid("unit_parent_level", unit=unit.code, parent=parent.code, level=unit.level - 1)
    if not parent.active:
        raise Invalid("unit_inactive", unit=parent.code)
    if unit.parent_id == parent.id:
        raise Invalid("unit_same_parent", unit=unit.code, parent=parent.code)
    before = unit.parent.code
    unit.parent = parent
    _changed(session, actor, "unit_move", unit, {"from": before, "to": parent.code})
    return unit


def open_tickets(session: Session, code: str) -> list[Ticket]:
    """The open tickets a unit holds: what must be re-homed before it can be deactivated."""
    unit = unit_by_code(session, code)
    return list(session.scalars(select(Ticket).where(Ticket.unit_id == unit.id, Ticket.status.in_(OPEN_STATUSES))
                                .order_by(Ticket.received_at, Ticket.id)))


def open_counts(session: Session) -> dict[int, int]:
    """Open tickets held by each unit (by id)."""
    return {uid: int(n) for uid, n in session.execute(
        select(Ticket.unit_id, func.count()).where(Ticket.status.in_(OPEN_STATUSES), Ticket.unit_id.is_not(None))
        .group_by(Ticket.unit_id)) if uid is not None}


def rehome_open_tickets(session: UnitOfWork, actor: Actor, code: str, to_code: str, note: str | None = None) -> list[str]:
    """Every open ticket of ``code`` to ``to_code``, each by the service layer's re-homing step
    (its timeline says so); returns their numbers."""
    from tickets import services  # the service layer sits above the domain modules

    _admin(actor, "rehome")
    target = unit_by_code(session, to_code)
    if target.code == code:
        raise Invalid("rehome_same_unit", number="", unit=code)
    numbers = [t.number for t in open_tickets(session, code)]
    for number in numbers:
        services.rehome(session, actor, number, target.code, note=note)
    if numbers:
        audit.record(session, actor.name, "unit_rehome", target=code, details={"to": target.code, "tickets": len(numbers)})
    return numbers


def deactivate_unit(session: UnitOfWork, actor: Actor, code: str) -> Unit:
    """Retire a unit: refused while it holds open tickets (re-home them first) or has active units below."""
    _admin(actor, "deactivate_unit")
    unit = unit_by_code(session, code)
    if not unit.active:
        raise IllegalStep("unit_already_inactive", unit=unit.code)
    if unit.parent is None:
        raise Invalid("unit_is_root", unit=unit.code)
    held = len(open_tickets(session, code))
    if held:
        raise IllegalStep("unit_has_open_tickets", unit=unit.code, count=held)
    below = [c.code for c in unit.children if c.active]
    if below:
        raise IllegalStep("unit_has_active_children", unit=unit.code, count=len(below))
    unit.active = False
    _changed(session, actor, "unit_deactivate", unit, {})
    return unit


def set_topics(session: UnitOfWork, actor: Actor, code: str, topics: Sequence[str]) -> Unit:
    """Which topics the unit takes (routing by topic, tickets/dispatch.py): the list replaces the old."""
    _admin(actor, "set_topics")
    unit = unit_by_code(session, code)
    unknown = [t for t in topics if t not in TOPICS]
    if unknown:
        raise Invalid("unknown_topic", topic=unknown[0])
    if unit.level < 2:
        raise Invalid("unit_is_root", unit=unit.code)
    before = list(unit.topics or [])
    unit.topics = sorted(set(topics), key=list(TOPICS).index)
    _changed(session, actor, "unit_topics", unit, {"from": before, "to": unit.topics})
    return unit


# ------------------------------------------------------------- jurisdictions (辖区), uploaded
def check_jurisdictions(session: UnitOfWork, actor: Actor, text: str, name: str) -> tuple[JurisdictionUpload, Any]:
    """Check an uploaded jurisdiction file as ``geo check`` does, against the active stations, and
    keep it with its report, to be applied or discarded: nothing routes by it yet."""
    _admin(actor, "check_jurisdictions")
    stations = list(session.scalars(select(Unit.code).where(Unit.kind == "station", Unit.active.is_(True))))
    found = jurisdictions.load_text(text, name, stations)
    report = found.report
    upload = JurisdictionUpload(name=name[:200], geojson=text, errors=len(report.errors), status="checked",
                                checked_by=actor.name[:64], report={
                                    "features": report.features, "units": report.units,
                                    "problems": [[p.severity, p.kind, p.message] for p in report.problems]})
    session.add(upload)
    session.flush()
    audit.record(session, actor.name, "jurisdictions_check", target=f"{upload.id} {name}"[:200],
                 details={"errors": len(report.errors), "warnings": len(report.warnings), "units": report.units})
    return upload, found


def _upload(session: UnitOfWork, upload_id: int) -> JurisdictionUpload:
    upload = session.get(JurisdictionUpload, upload_id)
    if upload is None:
        raise NotFound("unknown_jurisdiction_upload", upload=upload_id)
    if upload.status != "checked":
        raise IllegalStep("jurisdiction_upload_decided", upload=upload_id, status=upload.status)
    return upload


def apply_jurisdictions(session: UnitOfWork, actor: Actor, upload_id: int) -> JurisdictionUpload:
    """Route by a checked file from now on (every process within ``dispatch.JURISDICTION_CHECK_SECONDS``);
    refused while its report has errors."""
    _admin(actor, "apply_jurisdictions")
    upload = _upload(session, upload_id)
    if upload.errors:
        raise IllegalStep("jurisdiction_upload_errors", upload=upload_id, count=upload.errors)
    now = utcnow()
    for previous in session.scalars(select(JurisdictionUpload).where(JurisdictionUpload.status == "applied")):
        previous.status = "superseded"
    upload.status, upload.decided_at, upload.decided_by = "applied", now, actor.name[:64]
    session.flush()
    audit.record(session, actor.name, "jurisdictions_apply", target=f"{upload.id} {upload.name}"[:200])
    return upload


def discard_jurisdictions(session: UnitOfWork, actor: Actor, upload_id: int) -> JurisdictionUpload:
    _admin(actor, "discard_jurisdictions")
    upload = _upload(session, upload_id)
    upload.status, upload.decided_at, upload.decided_by = "discarded", utcnow(), actor.name[:64]
    session.flush()
    audit.record(session, actor.name, "jurisdictions_discard", target=f"{upload.id} {upload.name}"[:200])
    return upload
