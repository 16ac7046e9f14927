"""Station jurisdictions (派出所辖区): which station answers for a point.

A jurisdiction file is a GeoJSON FeatureCollection (WGS84, lon/lat), one
Polygon or MultiPolygon feature per station with its ``unit_code`` (the code
of the unit in the bureau file, e.g. ``JN-LX-01``); ``name`` and ``district``
properties are optional. The platform ships derived demo jurisdictions
(``geo/data/*_station_jurisdictions.geojson``, made by
``python app.py geo derive``: each district split among its stations, see
``geo/derive_jurisdictions.py``). A bureau loads its real ones by:

1. exporting them as such a file (one feature per station, ``unit_code`` set);
2. ``python app.py geo check FILE --bureau BUREAU.yaml``: every problem is
   listed (invalid geometry, overlaps and gaps in km², unknown unit codes,
   stations without a polygon); fix until it reports none;
3. naming the file in the platform's config file (``MINSHENG_CONFIG``)::

       extra:
         jurisdiction_files: [/etc/minsheng/jurisdictions.geojson]

   Routing then uses it instead of the demo files (after a restart).

Boundary rule of ``station_at`` (geo/polygon_index.py): a point on a polygon's
boundary belongs to it (``covers``); where several polygons cover a point (an
edge or vertex shared by neighbours, or an overlap), the **lowest unit code in
string order** wins, whatever the order of the file. A point covered by none
gives ``None``.
"""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from geo.districts import JIAXIANG_FILE, JINAN_FILE, District, load_districts
from geo.measure import area_km2
from geo.polygon_index import PolygonIndex

log = logging.getLogger(__name__)

DATA = Path(__file__).resolve().parent / "data"
JINAN_JURISDICTIONS = DATA / "jinan_station_jurisdictions.geojson"
JIAXIANG_JURISDICTIONS = DATA / "jiaxiang_station_jurisdictions.geojson"
DEFAULT_FILES = (JINAN_JURISDICTIONS, JIAXIANG_JURISDICTIONS)
BOUNDARY_FILES = (JINAN_FILE, JIAXIANG_FILE)

# Overlaps, gaps and spill-overs smaller than this are rounding noise, not
# mistakes: 0.01 km² is a 100 m × 100 m square, or a 1 m sliver along 10 km.
DEFAULT_TOLERANCE_KM2 = 0.01
# A district counts as "covered" by a file (so its uncovered parts are gaps)
# when the file's polygons cover at least this share of it; below, the file
# merely brushes it (a neighbouring bureau, a border drawn slightly wide).
COVERED_SHARE = 0.05
@dataclass(frozen=True)
class Jurisdiction:
    unit_code: str
    geometry: BaseGeometry  # WGS84 lon/lat, prepared
    name: str | None = None
    district: str | None = None


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a jurisdiction file."""

    kind: str  # unreadable | missing_code | not_polygon | invalid_geometry | duplicate_code |
    #            unknown_code | no_polygon | overlap | gap | outside_districts
    message: str
    units: tuple[str, ...] = ()
    area_km2: float | None = None
    at: tuple[float, float] | None = None  # (lat, lon) of a point inside the problem
    severity: str = "error"  # or "warning": reported, but the file is usable as it is


@dataclass
class ValidationReport:
    sources: list[str] = field(default_factory=list)
    features: int = 0
    units: int = 0
    area_km2: float = 0.0
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity != "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def of_kind(self, kind: str) -> list[Problem]:
        return [p for p in self.problems if p.kind == kind]

    def render(self) -> str:
        lines = [f"{', '.join(self.sources) or '(no file)'}: {self.features} feature(s), "
                 f"{self.units} unit(s), {self.area_km2:,.1f} km²"]
        for p in self.problems:
            extra = []
            if p.area_km2 is not None:
                extra.append(f"{p.area_km2:.4f} km²")
            if p.at is not None:
                extra.append(f"at {p.at[0]:.6f},{p.at[1]:.6f}")
            tail = f" ({'; '.join(extra)})" if extra else ""
            lines.append(f"  {p.severity.upper():7} {p.kind}: {p.message}{tail}")
        lines.append(f"{len(self.errors)} error(s), {len(self.warnings)} warning(s): "
                     + ("OK" if self.ok else "NOT OK"))
        return "\n".join(lines)


class JurisdictionSet(PolygonIndex):
    """Jurisdictions by unit code, with the index's fast, exact point lookup."""

    def __init__(self, jurisdictions: Iterable[Jurisdiction], report: ValidationReport | None = None) -> None:
        items = list(jurisdictions)
        super().__init__((j.unit_code, j.geometry) for j in items)
        self._by_code = {j.unit_code: j for j in sorted(items, key=lambda j: j.unit_code)}
        self.report = report if report is not None else ValidationReport(units=len(items))

    def __getitem__(self, code: str) -> Jurisdiction:
        return self._by_code[code]

    def __iter__(self) -> Iterator[Jurisdiction]:
        return iter(self._by_code.values())

    # The station whose jurisdiction covers a point: the module's boundary rule.
    station_at = PolygonIndex.code_at
    stations_at = PolygonIndex.codes_at


# ----------------------------------------------------------------- loading


def load_jurisdictions(
    paths: Path | str | Sequence[Path | str],
    known_unit_codes: Collection[str] | None = None,
    *,
    districts: Mapping[str, District] | None = None,
    tolerance_km2: float = DEFAULT_TOLERANCE_KM2,
    validate: bool = True,
) -> JurisdictionSet:
    """Read one or more jurisdiction files into a set; ``.report`` lists every problem.

    Nothing is silently dropped: a feature that cannot be used (no unit code,
    not a polygon) is left out *and* reported; an invalid polygon is repaired
    (``make_valid``) and reported; duplicate codes are merged and reported.
    ``known_unit_codes`` (the bureau's station codes) enables the unknown-code
    and missing-polygon checks. ``districts`` (default: the shipped Jinan and
    Jiaxiang boundaries) are what gaps are measured against. ``validate=False``
    skips the geometric checks (overlaps, gaps), for files already checked.
    """
    sources = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    report = ValidationReport(sources=[str(p) for p in sources])
    parts: dict[str, list[BaseGeometry]] = {}
    meta: dict[str, tuple[str | None, str | None]] = {}
    for path in sources:
        for code, geom, props in _read_features(path, report):
            parts.setdefault(code, []).append(geom)
            meta.setdefault(code, (props.get("name"), props.get("district")))
    jurisdictions = []
    for code, geoms in parts.items():
        if len(geoms) > 1:
            report.problems.append(Problem(
                "duplicate_code", f"{code}: {len(geoms)} features, merged into one", (code,),
                severity="warning"))
        geom = geoms[0] if len(geoms) == 1 else shapely.union_all(geoms)
        name, district = meta[code]
        jurisdictions.append(Jurisdiction(code, geom, name, district))
    result = JurisdictionSet(jurisdictions, report)
    report.units = len(result)
    report.area_km2 = sum(area_km2(j.geometry) for j in result)
    if known_unit_codes is not None:
        known = set(known_unit_codes)
        for code in result.codes:
            if code not in known:
                report.problems.append(Problem(
                    "unknown_code", f"{code}: no such station in the bureau's units", (code,),
                    area_km2(result[code].geometry), _inside(result[code].geometry)))
        for code in sorted(known - set(result.codes)):
            report.problems.append(Problem("no_polygon", f"{code}: station without a jurisdiction polygon", (code,)))
    if validate:
        if districts is None:
            districts = {}
            for boundary in BOUNDARY_FILES:
                districts.update(load_districts(boundary))
        _check_overlaps(result, tolerance_km2, report)
        _check_coverage(result, districts, tolerance_km2, report)
    return result


def _read_features(path: Path, report: ValidationReport) -> Iterable[tuple[str, BaseGeometry, dict[str, Any]]]:
    """Usable (code, polygonal geometry, properties) of one file; problems to the report."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        report.problems.append(Problem("unreadable", f"{path}: {exc}"))
        return
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" or not isinstance(
        data.get("features"), list
    ):
        report.problems.append(Problem("unreadable", f"{path}: not a GeoJSON FeatureCollection"))
        return
    for i, feature in enumerate(data["features"]):
        report.features += 1
        where = f"{path.name} feature {i}"
        if not isinstance(feature, dict):
            report.problems.append(Problem("not_polygon", f"{where}: not a GeoJSON Feature"))
            continue
        props = feature.get("properties") or {}
        code = props.get("unit_code")
        if not isinstance(code, str) or not code.strip():
            report.problems.append(Problem("missing_code", f"{where}: no unit_code property"))
            continue
        code = code.strip()
        if not feature.get("geometry"):
            report.problems.append(Problem("not_polygon", f"{code} ({where}): no geometry", (code,)))
            continue
        try:
            geom = shape(feature["geometry"])
        except Exception as exc:  # shapely raises several kinds for bad GeoJSON
            report.problems.append(Problem("not_polygon", f"{code} ({where}): unreadable geometry: {exc}", (code,)))
            continue
        if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
            report.problems.append(Problem(
                "not_polygon", f"{code} ({where}): {geom.geom_type}{' (empty)' if geom.is_empty else ''}, "
                "not a Polygon or MultiPolygon", (code,)))
            continue
        if not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            geom = _polygonal(shapely.make_valid(geom))
            report.problems.append(Problem(
                "invalid_geometry", f"{code} ({where}): {reason}; repaired for lookups", (code,),
                area_km2(geom)))
            if geom.is_empty:
                continue
        yield code, geom, props


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """The polygons of a geometry (make_valid may add stray lines and points)."""
    polys = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(polys) if polys else shapely.Polygon()


def _inside(geom: BaseGeometry) -> tuple[float, float]:
    p = geom.representative_point()
    return round(p.y, 6), round(p.x, 6)


def _check_overlaps(js: JurisdictionSet, tolerance_km2: float, report: ValidationReport) -> None:
    geoms = js.geometries
    left, right = js.tree.query(geoms, predicate="intersects")
    for i, j in zip(left.tolist(), right.tolist()):
        if i >= j:
            continue
        common = _polygonal(shapely.intersection(geoms[i], geoms[j]))
        if common.is_empty:
            continue  # a shared edge or vertex: neighbours, not an overlap
        area = area_km2(common)
        if area > tolerance_km2:
            a, b = js.codes[i], js.codes[j]
            report.problems.append(Problem(
                "overlap", f"{a} and {b} overlap", (a, b), area, _inside(common)))


def _check_coverage(
    js: JurisdictionSet, districts: Mapping[str, District], tolerance_km2: float, report: ValidationReport
) -> None:
    if not len(js):
        return
    union = shapely.union_all(js.geometries)
    for name, district in districts.items():
        covered = area_km2(shapely.intersection(district.geometry, union))
        total = area_km2(district.geometry)
        if covered < COVERED_SHARE * total:
            continue
        for part in shapely.get_parts(_polygonal(shapely.difference(district.geometry, union))):
            area = area_km2(part)
            if area <= tolerance_km2:
                continue
            # Neighbours: jurisdictions sharing an edge with the gap (not just a corner).
            around = sorted(js.codes[k] for k in js.tree.query(part, predicate="intersects")
                            if shapely.intersection(js.geometries[k], part.boundary).length > 0)
            edge = " along the district border" if part.intersects(district.geometry.boundary) else ""
            report.problems.append(Problem(
                "gap", f"{name}: area covered by no jurisdiction{edge}"
                + (f" (next to {', '.join(around)})" if around else ""), tuple(around), area, _inside(part)))
    land = shapely.union_all([d.geometry for d in districts.values()])
    for part in shapely.get_parts(_polygonal(shapely.difference(union, land))):
        area = area_km2(part)
        if area > tolerance_km2:
            owners = sorted(js.codes[k] for k in js.tree.query(part, predicate="intersects")
                            if _polygonal(shapely.intersection(js.geometries[k], part)).area > 0)
            report.problems.append(Problem(
                "outside_districts", f"{', '.join(owners) or '?'}: reaches outside the known district boundaries",
                tuple(owners), area, _inside(part), severity="warning"))


# ----------------------------------------------------------------- routing


_lock = threading.Lock()
_routing: JurisdictionSet | None = None
_configured: tuple[Path, ...] | None = None


def load_text(text: str, name: str, known_unit_codes: Collection[str] | None = None,
              validate: bool = True) -> JurisdictionSet:
    """:func:`load_jurisdictions` on a file's text (an upload), the report naming it ``name``."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / (Path(name).name or "upload.geojson")
        path.write_text(text, encoding="utf-8")
        found = load_jurisdictions(path, known_unit_codes, validate=validate)
    found.report.sources = [name]
    for i, p in enumerate(found.report.problems):
        if str(path) in p.message:
            found.report.problems[i] = Problem(p.kind, p.message.replace(str(path), name), p.units, p.area_km2, p.at,
                                               p.severity)
    return found


def use_for_routing(found: JurisdictionSet | None) -> None:
    """Route by ``found`` from now on (an applied upload); None: back to the configured files."""
    global _routing
    with _lock:
        _routing = found


def configure_routing(paths: Sequence[Path | str] | None) -> None:
    """Use these files for ``station_at`` (None: back to the config / shipped default)."""
    global _routing, _configured
    with _lock:
        _configured = None if paths is None else tuple(Path(p) for p in paths)
        _routing = None


def routing_files() -> tuple[tuple[Path, ...], bool]:
    """(files routing uses, whether they come from configuration rather than the shipped demo)."""
    if _configured is not None:
        return _configured, True
    import settings  # the one place configuration is read

    files = settings.load().extra.get("jurisdiction_files")
    if files:
        return tuple(Path(p) for p in ([files] if isinstance(files, str) else files)), True
    return DEFAULT_FILES, False


def routing_jurisdictions() -> JurisdictionSet:
    """The set routing uses, loaded once per process (and again after configure_routing)."""
    global _routing
    found = _routing
    if found is None:
        with _lock:
            if _routing is None:
                files, configured = routing_files()
                # The shipped files are checked by the tests; a bureau's own are
                # checked at load and their problems logged (they still route).
                _routing = load_jurisdictions(files, validate=configured)
                if _routing.report.problems:
                    log.warning("jurisdictions for routing: %s", _routing.report.render())
            found = _routing
    return found


def station_at(lat: float, lon: float) -> str | None:
    """Unit code of the station whose jurisdiction covers (lat, lon), or None."""
    return routing_jurisdictions().station_at(lat, lon)
