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
from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.districts import JIAXIANG_FILE, JINAN_FILE, District, district_at, load_districts
from tickets.dispatch import forget_topic_owners
from tickets.models import Unit
from tickets.vocabulary import TOPICS

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
