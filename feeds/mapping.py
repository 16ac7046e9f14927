"""Import mapping files: how the columns of one source's CSV/Excel export become records.

A mapping is YAML (see examples/boston311.yaml, docs/IMPORT.md). It is read
and checked as a whole before any row is touched; :class:`MappingError`
lists every problem at once, each naming its key. Then :meth:`Mapping.parse`
turns one row (column name → value) into a :class:`tickets.batch.Arrival`
or a list of :class:`feeds.dead_letters.FieldError` saying which field is
wrong and why.

Date formats are written as the source's documentation writes them —
``MM/DD/YYYY hh:mm:ss AM`` (Boston), ``yyyy-MM-dd HH:mm:ss`` (Chinese
systems, local time without a zone) — or as Python ``strptime`` formats (anything with a
``%``), or ``iso``. Times without an offset are read in the mapping's
``timezone``; a due date that is a bare date means the end of that day.
"""
from __future__ import annotations

import re
from collections.abc import Mapping as MappingT
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from feeds import import_reasons as reasons
from feeds.dead_letters import FieldError
from geo.coords import SYSTEMS, normalize_system, to_wgs84
from tickets import calendars
from tickets.batch import CLOCKS, DUE_FROM, Arrival
from tickets.intake import AHEAD, NewRequest
from tickets.vocabulary import CHANNELS, KINDS, SLA_CLASSES, TOPICS

TOP_KEYS = frozenset({
    "name", "description", "source", "format", "timezone", "dates", "columns", "status", "due", "coordinates",
    "channel", "topic", "kind", "sla_class", "unit", "dedup", "limits", "calendar", "open", "where",
})
COLUMN_KEYS = frozenset({
    "external_id", "received_at", "closed_at", "due_at", "title", "content", "address", "district", "lat", "lon",
    "phone", "name", "contact_due_at", "contacted_at",
})
# What to do with open records whose own deadline has passed by the import (breaches at once):
# ask (refuse the run unless confirmed: ``import --yes``), keep (import them, breaches),
# close (import them closed at the import: late), exclude (leave them out, counted).
PAST_DUE = ("ask", "keep", "close", "exclude")
TEMPLATE_KEYS = frozenset({"title", "content", "address"})
MAX_EXTERNAL_ID = 64
MAX_TEXT_CEILING = 1_000_000  # limits.max_text at most: one record is not a book

_TOKENS = [  # friendly date tokens → strptime, longest first
    ("YYYY", "%Y"), ("yyyy", "%Y"), ("SSS", "%f"), ("MM", "%m"), ("DD", "%d"), ("dd", "%d"), ("HH", "%H"),
    ("hh", "%I"), ("mm", "%M"), ("ss", "%S"), ("AM", "%p"), ("PM", "%p"),
]
_TOKEN_RE = re.compile("|".join(re.escape(t) for t, _ in _TOKENS))
_TEMPLATE_RE = re.compile(r"\{([^{}]+)\}")


class MappingError(ValueError):
    """The mapping cannot be used; ``problems`` lists every reason."""

    def __init__(self, where: str, problems: list[str]) -> None:
        self.where = where
        self.problems = problems
        super().__init__(f"{where}: {len(problems)} problem(s):\n" + "\n".join(f"  - {p}" for p in problems))


def strptime_format(spec: str) -> str:
    """``MM/DD/YYYY hh:mm:ss AM`` → ``%m/%d/%Y %I:%M:%S %p``; a ``%`` format is kept as it is."""
    if "%" in spec or spec == "iso":
        return spec
    table = dict(_TOKENS)
    return _TOKEN_RE.sub(lambda m: table[m.group(0)], spec)


_FAST = {"%Y": r"(?P<Y>\d{4})", "%m": r"(?P<m>\d{1,2})", "%d": r"(?P<d>\d{1,2})", "%H": r"(?P<H>\d{1,2})",
         "%I": r"(?P<I>\d{1,2})", "%M": r"(?P<M>\d{1,2})", "%S": r"(?P<S>\d{1,2})", "%p": r"(?P<p>[AaPp][Mm])",
         "%f": r"(?P<f>\d{1,6})"}


def _fast_pattern(fmt: str) -> re.Pattern[str] | None:
    """A regex for a strptime format made only of the common fields (50× faster than strptime)."""
    if fmt == "iso":
        return None
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%":
            field_ = _FAST.get(fmt[i:i + 2])
            if field_ is None:
                return None
            out.append(field_)
            i += 2
        else:
            out.append(r"\s+" if fmt[i] == " " else re.escape(fmt[i]))
            i += 1
    if ("%I" in fmt) != ("%p" in fmt) or "%Y" not in fmt:
        return None
    return re.compile("".join(out))


class BadDate(ValueError):
    """A value that matches none of the formats; ``formats`` are as the mapping writes them."""

    def __init__(self, value: str, formats: tuple[str, ...]) -> None:
        self.value = value
        self.formats = formats
        super().__init__(f"{value!r} matches none of the formats {list(formats)}")


@dataclass(frozen=True)
class DateReader:
    formats: tuple[str, ...]
    tz: ZoneInfo
    fast: tuple[re.Pattern[str] | None, ...] = ()
    shown: tuple[str, ...] = ()  # the formats as the mapping writes them (MM/DD/YYYY …), for messages

    def __post_init__(self) -> None:
        object.__setattr__(self, "fast", tuple(_fast_pattern(f) for f in self.formats))
        if len(self.shown) != len(self.formats):
            object.__setattr__(self, "shown", self.formats)

    def read(self, text: Any, end_of_day: bool = False) -> datetime:
        """An aware datetime, or ValueError naming the formats tried."""
        if isinstance(text, datetime):  # Excel cells arrive as datetimes (naive: the source's zone)
            return text if text.tzinfo else text.replace(tzinfo=self.tz)
        if isinstance(text, date):
            return self._day(text, end_of_day)
        value = str(text).strip()
        for fmt, fast in zip(self.formats, self.fast):
            if fast is not None:
                m = fast.fullmatch(value)
                if m is None:
                    continue
                g = {k: None for k in "YmdHIMSpf"} | m.groupdict()
                try:
                    hour = int(g["H"] or 0)
                    if g["I"] is not None:
                        hour = int(g["I"]) % 12 + (12 if (g["p"] or "").upper() == "PM" else 0)
                        if int(g["I"]) > 12 or int(g["I"]) == 0:
                            raise ValueError("hour out of range")
                    parsed = datetime(int(g["Y"] or ""), int(g["m"] or 1), int(g["d"] or 1), hour, int(g["M"] or 0),
                                      int(g["S"] or 0), int((g["f"] or "0").ljust(6, "0")))
                except ValueError:
                    continue
                if g["H"] is None and g["I"] is None and g["M"] is None:
                    return self._day(parsed.date(), end_of_day)
                return parsed.replace(tzinfo=self.tz)
            try:
                parsed = datetime.fromisoformat(value) if fmt == "iso" else datetime.strptime(value, fmt)
            except ValueError:
                continue
            if fmt != "iso" and not any(t in fmt for t in ("%H", "%I", "%M")):
                return self._day(parsed.date(), end_of_day)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=self.tz)
        raise BadDate(value, self.shown)

    def _day(self, day: date, end_of_day: bool) -> datetime:
        if end_of_day:  # a deadline given as a bare date: the whole day counts
            return datetime.combine(day + timedelta(days=1), time(0), self.tz) - timedelta(seconds=1)
        return datetime.combine(day, time(0), self.tz)


@dataclass(frozen=True)
class ValueMap:
    """A source column's values → our vocabulary: exact map, then patterns, then the default."""

    key: str
    vocabulary: tuple[str, ...]
    column: str | None = None
    value: str | None = None  # a constant
    map: dict[str, str] = field(default_factory=dict)
    patterns: tuple[tuple[re.Pattern[str], str], ...] = ()
    default: str | None = None
    from_text: bool = False  # topic/kind from the Chinese text (feeds.topics)

    def resolve(self, row: MappingT[str, Any], text: str) -> tuple[str | None, FieldError | None]:
        if self.value is not None:
            return self.value, None
        raw = _cell(row, self.column) if self.column else ""
        if raw:
            if raw in self.map:
                return self.map[raw], None
            for pattern, value in self.patterns:
                if pattern.search(raw):
                    return value, None
        if self.from_text and text:
            from feeds import topics

            return (topics.topic_of(text) if self.key == "topic" else topics.kind_of(text)), None
        if self.default is not None:
            return self.default, None
        where = f"{self.key} ({self.column})" if self.column else self.key
        return None, reasons.error(where, "not_mapped", value=raw)


WHERE_OPERATORS = ("equals", "in", "matches", "not_equals", "not_in", "not_matches")


@dataclass(frozen=True)
class Condition:
    """One condition of ``where:`` on a column's value (trimmed, as every column is read): ``equals`` a
    value, ``in`` a list, ``matches`` a regex (found anywhere in the value: anchor it with ^…$), or
    the ``not_`` form of each."""

    column: str
    operator: str
    values: frozenset[str] = frozenset()
    pattern: re.Pattern[str] | None = None

    def holds(self, row: MappingT[str, Any]) -> bool:
        value = _cell(row, self.column)
        found = self.pattern.search(value) is not None if self.pattern is not None else value in self.values
        return not found if self.operator.startswith("not_") else found


def where_conditions(spec: Any, problems: list[str]) -> tuple[Condition, ...]:
    """``where:`` (a list of conditions, all of which must hold) → conditions; problems named by key."""
    if spec is None:
        return ()
    items = [spec] if isinstance(spec, dict) else spec
    if not isinstance(items, list):
        problems.append("where: a list of conditions, e.g. [{column: SUBJECT, equals: Boston Police Department}]")
        return ()
    out = []
    for i, item in enumerate(items):
        key = f"where[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{key}: a condition {{column: C, OPERATOR: value}}, got {item!r}")
            continue
        column = item.get("column")
        operators = [k for k in item if k in WHERE_OPERATORS]
        extra = sorted(set(item) - {"column", *WHERE_OPERATORS})
        if not isinstance(column, str) or not column.strip():
            problems.append(f"{key}.column: required, the source column the condition reads")
        if extra:
            problems.append(f"{key}: unknown key(s) {extra}; a condition has column and one of {list(WHERE_OPERATORS)}")
        if len(operators) != 1:
            problems.append(f"{key}: exactly one of {list(WHERE_OPERATORS)}, got {operators or 'none'}")
            continue
        operator = operators[0]
        value = item[operator]
        base = operator.removeprefix("not_")
        if base == "matches":
            try:
                pattern = re.compile(str(value)) if isinstance(value, str) and value else None
            except re.error as exc:
                problems.append(f"{key}.{operator}: bad regex {value!r}: {exc}")
                continue
            if pattern is None:
                problems.append(f"{key}.{operator}: a regular expression, got {value!r}")
                continue
            out.append(Condition(str(column), operator, pattern=pattern))
            continue
        values = value if base == "in" else [value]
        if base == "in" and (not isinstance(value, list) or not value):
            problems.append(f"{key}.{operator}: a list of values, got {value!r}")
            continue
        bad = [v for v in values if isinstance(v, bool) or not isinstance(v, (str, int, float))]
        if bad:  # YAML reads yes/no/true/off as booleans and ~ as null: the file has the text
            problems.append(f"{key}.{operator}: {bad!r} is not text: quote it ('yes', 'null') to compare with "
                            "the file's text")
            continue
        out.append(Condition(str(column), operator, values=frozenset(_text_of(v) for v in values)))
    return tuple(out)


def _text_of(value: str | int | float) -> str:
    """A YAML value as the file's text: 2 → '2', 2.0 → '2' (as a cell is read), 'x ' → 'x'."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


@dataclass(frozen=True)
class UnitRule:
    column: str | None = None
    remove: str = r"[\s\-_]"  # characters removed before the lookup (C-11 → C11)
    upper: bool = True
    code: str = "{value}"  # unit code template
    map: dict[str, str] = field(default_factory=dict)  # cleaned value → unit code (wins over code)
    missing: str | None = None  # unit code for rows without a value (None: routed by topic and place)

    def clean(self, raw: str) -> str:
        value = re.sub(self.remove, "", raw) if self.remove else raw
        return value.upper() if self.upper else value


@dataclass
class Mapping:
    name: str
    path: Path | None
    source: str
    timezone: ZoneInfo
    dates: DateReader
    columns: dict[str, str]
    channel: ValueMap
    topic: ValueMap
    kind: ValueMap
    sla_class: ValueMap
    encoding: str = "utf-8-sig"
    delimiter: str = ","
    sheet: str | None = None
    status_column: str | None = None
    closed_values: frozenset[str] = frozenset()
    open_values: frozenset[str] = frozenset()
    due_missing: str = "none"
    offset_hours: float | None = None  # due.missing: offset — received + this many hours
    offset_clock: str = "wall"  # wall | working (on ``calendar``)
    calendar: calendars.Calendar = calendars.OFFICIAL  # the source's working calendar
    past_due: str = "ask"  # see PAST_DUE
    supervise: bool = False  # the sweeps treat its open records as the bureau's own
    coordinate_system: str = "wgs84"
    missing_points: tuple[tuple[float, float], ...] = ()
    bounds: tuple[tuple[float, float], tuple[float, float]] | None = None
    coordinates_required: bool = False
    unit: UnitRule = field(default_factory=UnitRule)
    dedup_mode: str | None = None  # None: the platform's setting
    max_text: int = 20_000  # characters of a title or a content (12345 work orders run long)
    where: tuple[Condition, ...] = ()  # all must hold, or the row is filtered out
    # Filled by the importer: codes of the active units, to refuse unknown ones.
    known_units: frozenset[str] | None = None

    # -------------------------------------------------------------- reading
    @classmethod
    def load(cls, path: str | Path) -> Mapping:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise MappingError(str(path), [f"cannot read: {exc}"]) from exc
        return cls.from_dict(data, str(path), path)

    @classmethod
    def from_dict(cls, data: Any, where: str = "<mapping>", path: Path | None = None) -> Mapping:
        problems: list[str] = []
        if not isinstance(data, dict):
            raise MappingError(where, ["the mapping must be a YAML mapping (key: value)"])
        unknown = set(data) - TOP_KEYS
        if unknown:
            problems.append(f"unknown key(s) {sorted(unknown)}; allowed: {sorted(TOP_KEYS)}")

        def section(key: str) -> dict[str, Any]:
            value = data.get(key) or {}
            if not isinstance(value, dict):
                problems.append(f"{key}: must be a mapping, got {value!r}")
                return {}
            return value

        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append("name: required (a short name of the source, e.g. boston311)")
            name = "?"
        source = data.get("source", name)
        if not isinstance(source, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,24}", source or ""):
            problems.append(f"source: 1–24 letters, digits, '_', '.', '-' (the external ids' prefix), got {source!r}")
            source = "?"

        tz_name = data.get("timezone")
        tz = ZoneInfo("UTC")
        if not isinstance(tz_name, str):
            problems.append("timezone: required, the zone the source's times are written in (e.g. Asia/Shanghai)")
        else:
            try:
                tz = ZoneInfo(tz_name)
            except (ZoneInfoNotFoundError, ValueError):
                problems.append(f"timezone: unknown time zone {tz_name!r}")

        dates = section("dates")
        specs = dates.get("formats", ["iso"])
        if isinstance(specs, str):
            specs = [specs]
        formats, shown = [], []
        if not isinstance(specs, list) or not specs:
            problems.append("dates.formats: a list of date formats, e.g. ['MM/DD/YYYY hh:mm:ss AM']")
        else:
            for spec in specs:
                fmt = strptime_format(str(spec))
                if fmt != "iso":
                    try:
                        datetime(2024, 6, 12, 13, 5, 9).strftime(fmt)
                        if not ({"%Y", "%y"} & set(re.findall(r"%.", fmt))):
                            raise ValueError("no year in it")
                    except ValueError as exc:
                        problems.append(f"dates.formats: {spec!r} is not a date format ({exc})")
                        continue
                formats.append(fmt)
                shown.append(str(spec))

        columns = section("columns")
        bad_cols = set(columns) - COLUMN_KEYS
        if bad_cols:
            problems.append(f"columns: unknown field(s) {sorted(bad_cols)}; allowed: {sorted(COLUMN_KEYS)}")
        for required in ("external_id", "received_at"):
            if not columns.get(required):
                problems.append(f"columns.{required}: required (the source column holding it)")
        if not columns.get("title") and not columns.get("content"):
            problems.append("columns: give title or content (a column or a {COLUMN} template)")
        if bool(columns.get("lat")) != bool(columns.get("lon")):
            problems.append("columns: lat and lon go together")
        cols = {k: str(v) for k, v in columns.items() if v}

        def value_map(key: str, vocabulary: dict[str, str]) -> ValueMap:
            spec = data.get(key)
            vocab = tuple(vocabulary)
            if isinstance(spec, str):
                spec = {"value": spec}
            if not isinstance(spec, dict):
                problems.append(f"{key}: required: {{value: X}} or {{column: C, map: {{...}}, default: X}}")
                return ValueMap(key, vocab, value="?")
            extra = set(spec) - {"column", "value", "map", "patterns", "default", "from_text"}
            if extra:
                problems.append(f"{key}: unknown key(s) {sorted(extra)}")
            mapped = spec.get("map") or {}
            if not isinstance(mapped, dict):
                problems.append(f"{key}.map: must be a mapping of source value → {key}")
                mapped = {}
            patterns = []
            for i, item in enumerate(spec.get("patterns") or []):
                if not (isinstance(item, (list, tuple)) and len(item) == 2):
                    problems.append(f"{key}.patterns[{i}]: must be [regex, value]")
                    continue
                try:
                    patterns.append((re.compile(str(item[0])), str(item[1])))
                except re.error as exc:
                    problems.append(f"{key}.patterns[{i}]: bad regex {item[0]!r}: {exc}")
            targets = [("value", spec.get("value")), ("default", spec.get("default"))]
            targets += [(f"map[{k!r}]", v) for k, v in mapped.items()]
            targets += [(f"patterns[{i}]", v) for i, (_p, v) in enumerate(patterns)]
            for where_, value in targets:
                if value is not None and value not in vocabulary:
                    problems.append(f"{key}.{where_}: {value!r} is not one of {sorted(vocabulary)}")
            from_text = bool(spec.get("from_text"))
            if from_text and key not in ("topic", "kind"):
                problems.append(f"{key}.from_text: only topic and kind can be read from the text")
            if spec.get("value") is None and not spec.get("column") and spec.get("default") is None and not from_text:
                problems.append(f"{key}: give value, or column with map/default, or from_text")
            return ValueMap(key, vocab, column=spec.get("column"), value=spec.get("value"),
                            map={str(k): str(v) for k, v in mapped.items()}, patterns=tuple(patterns),
                            default=spec.get("default"), from_text=from_text)

        channel = value_map("channel", CHANNELS)
        topic = value_map("topic", TOPICS)
        kind = value_map("kind", KINDS)
        sla_class = value_map("sla_class", SLA_CLASSES)

        status = section("status")
        closed_values = frozenset(map(str, status.get("closed") or []))
        open_values = frozenset(map(str, status.get("open") or []))
        if status and not status.get("column"):
            problems.append("status.column: required when status is given")
        if status.get("column") and not (closed_values or open_values):
            problems.append("status: list the source's closed and/or open values")
        if status and not cols.get("closed_at") and closed_values:
            problems.append("columns.closed_at: required to import closed records (their close time)")

        due = section("due")
        extra_due = set(due) - {"missing", "offset"}
        if extra_due:
            problems.append(f"due: unknown key(s) {sorted(extra_due)}; allowed: missing, offset")
        due_missing = due.get("missing", "none")
        if due_missing not in DUE_FROM or due_missing == "source":
            problems.append(f"due.missing: one of closed_at, none, sla, offset, not {due_missing!r}")
        offset_hours, offset_clock = None, "wall"
        offset = due.get("offset")
        if due_missing == "offset" or offset is not None:
            if not isinstance(offset, dict) or set(offset) - {"hours", "clock"}:
                problems.append("due.offset: {hours: H, clock: wall | working} (the source's rule: received + H hours)")
            else:
                offset_clock = str(offset.get("clock", "wall"))
                try:
                    offset_hours = float(offset.get("hours") or 0)
                    if not 0 < offset_hours <= 24 * 366:
                        raise ValueError
                except (TypeError, ValueError):
                    problems.append(f"due.offset.hours: a positive number of hours, not {offset.get('hours')!r}")
                if offset_clock not in CLOCKS:
                    problems.append(f"due.offset.clock: wall (elapsed hours) or working (working hours), "
                                    f"not {offset_clock!r}")
            if due_missing != "offset":
                problems.append("due.offset: applies with missing: offset")

        calendar_spec = data.get("calendar")
        calendar = calendars.OFFICIAL
        if calendar_spec is not None:
            if isinstance(calendar_spec, str):
                calendar_spec = {"days": calendar_spec}
            if not isinstance(calendar_spec, dict) or set(calendar_spec) - {"days", "country", "subdivision", "hours"}:
                problems.append("calendar: {days: official | weekdays | holidays, country: US, subdivision: MA, "
                                "hours: '08:00-12:00,13:00-17:00'}")
            else:
                try:
                    calendar = calendars.make(str(calendar_spec.get("days", "official")), calendar_spec.get("country"),
                                              calendar_spec.get("subdivision"), calendar_spec.get("hours"))
                except calendars.CalendarError as exc:
                    problems.append(str(exc))

        open_spec = section("open")
        if set(open_spec) - {"past_due", "supervise"}:
            problems.append(f"open: unknown key(s) {sorted(set(open_spec) - {'past_due', 'supervise'})}; "
                            "allowed: past_due, supervise")
        past_due = str(open_spec.get("past_due", "ask"))
        if past_due not in PAST_DUE:
            problems.append(f"open.past_due: one of {', '.join(PAST_DUE)}, not {past_due!r}")
        supervise = open_spec.get("supervise", False)
        if not isinstance(supervise, bool):
            problems.append(f"open.supervise: true or false, not {supervise!r}")

        coords = section("coordinates")
        system = coords.get("system", "wgs84")
        try:
            system = normalize_system(str(system))
        except ValueError:
            problems.append(f"coordinates.system: {system!r} is not one of {list(SYSTEMS)}")
        missing_points: list[tuple[float, float]] = []
        for i, point in enumerate(coords.get("missing_points") or []):
            try:
                lat, lon = (float(v) for v in point)
                missing_points.append((lat, lon))
            except (TypeError, ValueError):
                problems.append(f"coordinates.missing_points[{i}]: [lat, lon], got {point!r}")
        bounds = None
        if coords.get("bounds") is not None:
            try:
                (lat1, lon1), (lat2, lon2) = ((float(a), float(b)) for a, b in coords["bounds"])
                if not (lat1 < lat2 and lon1 < lon2):
                    raise ValueError
                bounds = ((lat1, lon1), (lat2, lon2))
            except (TypeError, ValueError):
                problems.append("coordinates.bounds: [[south, west], [north, east]]")
        coordinates_required = bool(coords.get("required", False))
        if coordinates_required and not cols.get("lat"):
            problems.append("coordinates.required: the mapping gives no lat/lon columns")

        unit_spec = section("unit")
        unit = UnitRule()
        if unit_spec:
            extra = set(unit_spec) - {"column", "remove", "upper", "code", "map", "missing"}
            if extra:
                problems.append(f"unit: unknown key(s) {sorted(extra)}")
            code = str(unit_spec.get("code", "{value}"))
            if "{value}" not in code:
                problems.append("unit.code: a template with {value}, e.g. BOS-{value}")
            try:
                re.compile(str(unit_spec.get("remove", UnitRule.remove)))
            except re.error as exc:
                problems.append(f"unit.remove: bad regex: {exc}")
            unit = UnitRule(column=unit_spec.get("column"), remove=str(unit_spec.get("remove", UnitRule.remove)),
                            upper=bool(unit_spec.get("upper", True)), code=code,
                            map={str(k): str(v) for k, v in (unit_spec.get("map") or {}).items()},
                            missing=unit_spec.get("missing"))

        dedup_spec = section("dedup")
        dedup_mode = dedup_spec.get("mode")
        if dedup_mode is not None and dedup_mode not in ("auto", "suggest", "off"):
            problems.append(f"dedup.mode: auto, suggest or off, not {dedup_mode!r}")

        file_format = section("format")
        delimiter = str(file_format.get("delimiter", ","))
        if len(delimiter) != 1:
            problems.append(f"format.delimiter: one character, got {delimiter!r}")
        encoding = str(file_format.get("encoding", "utf-8-sig"))
        try:
            "".encode(encoding)
        except LookupError:
            problems.append(f"format.encoding: unknown encoding {encoding!r}")
        limits = section("limits")
        max_text = limits.get("max_text", Mapping.max_text)
        if isinstance(max_text, bool) or not isinstance(max_text, int) or not 10 <= max_text <= MAX_TEXT_CEILING:
            problems.append(f"limits.max_text: a number of characters from 10 to {MAX_TEXT_CEILING:,}, got {max_text!r}")
            max_text = Mapping.max_text

        conditions = where_conditions(data.get("where"), problems)

        if problems:
            raise MappingError(where, problems)
        return cls(
            name=name, path=path, source=source, timezone=tz, columns=cols,
            dates=DateReader(tuple(formats), tz, shown=tuple(shown)),
            channel=channel, topic=topic, kind=kind, sla_class=sla_class, encoding=encoding, delimiter=delimiter,
            sheet=file_format.get("sheet"), status_column=status.get("column"), closed_values=closed_values,
            open_values=open_values, due_missing=due_missing, offset_hours=offset_hours, offset_clock=offset_clock,
            calendar=calendar, past_due=past_due, supervise=bool(supervise), coordinate_system=system,
            missing_points=tuple(missing_points), bounds=bounds, coordinates_required=coordinates_required, unit=unit,
            dedup_mode=dedup_mode, max_text=max_text, where=conditions,
        )

    # ------------------------------------------------------------ columns
    def referenced_columns(self) -> set[str]:
        out = set()
        for key, value in self.columns.items():
            if key in TEMPLATE_KEYS and "{" in value:
                out.update(_TEMPLATE_RE.findall(value))
            else:
                out.add(value)
        for vm in (self.channel, self.topic, self.kind, self.sla_class):
            if vm.column:
                out.add(vm.column)
        if self.status_column:
            out.add(self.status_column)
        if self.unit.column:
            out.add(self.unit.column)
        return out

    def check_header(self, header: list[str], where: str) -> None:
        problems = []
        missing = sorted(self.referenced_columns() - set(header))
        if missing:
            problems.append(f"column(s) {missing} named in the mapping are not in the file; its columns are: {header}")
        for i, condition in enumerate(self.where):
            if condition.column not in header:  # the filter would drop (or keep) every row
                problems.append(f"where[{i}].column: {condition.column!r} is not a column of the file; "
                                f"its columns are: {header}")
        if problems:
            raise MappingError(where, problems)

    def keep(self, row: MappingT[str, Any]) -> bool:
        """Whether the row passes ``where:`` (every condition holds)."""
        return all(c.holds(row) for c in self.where)

    def channels(self) -> set[str]:
        vm = self.channel
        return {v for v in (vm.value, vm.default, *vm.map.values(), *(v for _p, v in vm.patterns)) if v}

    # ---------------------------------------------------------------- rows
    def external_id(self, row: MappingT[str, Any]) -> str:
        raw = _cell(row, self.columns["external_id"])
        return f"{self.source}:{raw}" if raw else ""

    def parse(self, row: MappingT[str, Any], where: str, now: datetime) -> Arrival | list[FieldError]:
        """One row → a record, or every reason it cannot be one."""
        errors: list[FieldError] = []
        c = self.columns

        def field_name(key: str) -> str:
            value = c.get(key, "")
            return f"{key} ({value})" if value and "{" not in value else key

        raw_id = _cell(row, c["external_id"])
        external_id = f"{self.source}:{raw_id}" if raw_id else ""
        if not raw_id:
            errors.append(reasons.error(field_name("external_id"), "id_missing"))
        elif len(external_id) > MAX_EXTERNAL_ID:
            errors.append(reasons.error(field_name("external_id"), "id_too_long",
                                        max=MAX_EXTERNAL_ID - len(self.source) - 1, value=raw_id[:80]))

        received_at = self._date(row, "received_at", errors, required=True)
        if received_at is not None and received_at > now + AHEAD:
            errors.append(reasons.error(field_name("received_at"), "date_in_future", value=received_at.isoformat()))
        closed_at = self._date(row, "closed_at", errors)
        due_at = self._date(row, "due_at", errors, end_of_day=True)
        contact_due_at = self._date(row, "contact_due_at", errors)
        contacted_at = self._date(row, "contacted_at", errors)
        if contacted_at is not None and received_at is not None and contacted_at < received_at:
            errors.append(reasons.error(field_name("contacted_at"), "contacted_before_received",
                                        contacted=_cell(row, c["contacted_at"]), received=_cell(row, c["received_at"])))

        status = _cell(row, self.status_column) if self.status_column else ""
        if self.status_column:
            if status in self.closed_values:
                closed = True
            elif status in self.open_values or (not self.open_values and status not in self.closed_values):
                closed = False
            else:
                errors.append(reasons.error(f"status ({self.status_column})", "unknown_status", value=status,
                                            closed=sorted(self.closed_values), open=sorted(self.open_values)))
                closed = closed_at is not None
        else:
            closed = closed_at is not None
        if closed and closed_at is None and not _cell(row, c.get("closed_at", "")):
            errors.append(reasons.error(field_name("closed_at"), "closed_without_close_time"))
        if not closed and closed_at is not None and self.status_column:
            errors.append(reasons.error(field_name("closed_at"), "open_with_close_time", status=status))
        if closed and closed_at is not None and received_at is not None and closed_at < received_at:
            errors.append(reasons.error(field_name("closed_at"), "closed_before_opened",
                                        closed=_cell(row, c["closed_at"]), opened=_cell(row, c["received_at"])))

        title = self._text(row, "title")
        content = self._text(row, "content")
        for key, value in (("title", title), ("content", content)):  # each field that is too long
            if len(value) > self.max_text:
                errors.append(reasons.error(field_name(key), "oversize", length=len(value), max=self.max_text))
        text = f"{title} {content}".strip()
        channel = self._vocab(self.channel, row, text, errors)
        topic = self._vocab(self.topic, row, text, errors)
        kind = self._vocab(self.kind, row, text, errors)
        sla_class = self._vocab(self.sla_class, row, text, errors)

        lat, lon, point_note = self._point(row, errors)
        unit_code = self._unit(row, errors)
        phone = _cell(row, c.get("phone", ""))
        if len(phone) > 32:
            errors.append(reasons.error(field_name("phone"), "not_a_phone", value=phone[:40] + "…"))

        if errors:
            return errors
        assert received_at is not None and channel and topic and kind and sla_class
        raw = {k: v for k, v in row.items() if k is not None}
        if point_note:
            raw["_minsheng"] = {"coordinates": point_note}
        request = NewRequest(
            channel=channel, external_id=external_id, received_at=received_at, kind=kind, topic=topic,
            sla_class=sla_class, title=(title or TOPICS[topic])[:200], content=content or title,
            # The ticket's columns have widths (PostgreSQL enforces them); the whole value stays in the payload.
            district=_cell(row, c.get("district", ""))[:32] or None, address=self._text(row, "address")[:200] or None,
            lat=lat, lon=lon, citizen_name=_cell(row, c.get("name", ""))[:64] or None,
            citizen_phone=phone or None, raw=raw, unit_code=unit_code,
        )
        return Arrival(request=request, source=where, closed_at=closed_at if closed else None,
                       due_at=due_at, due_from=self.due_missing, source_status=status or None,
                       offset_hours=self.offset_hours, offset_clock=self.offset_clock,
                       calendar=None if self.calendar.is_official else self.calendar.key,
                       contact_due_at=contact_due_at, contacted_at=contacted_at, supervise=self.supervise)

    def _date(self, row: MappingT[str, Any], key: str, errors: list[FieldError], *, required: bool = False,
              end_of_day: bool = False) -> datetime | None:
        column = self.columns.get(key)
        if not column:
            return None
        value = row.get(column)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                errors.append(reasons.error(f"{key} ({column})", "date_missing"))
            return None
        try:
            return self.dates.read(value, end_of_day=end_of_day)
        except BadDate as exc:
            errors.append(reasons.error(f"{key} ({column})", "bad_date", value=exc.value[:80],
                                        formats=list(exc.formats)))
            return None
        except ValueError as exc:
            errors.append(FieldError(f"{key} ({column})", f"bad date: {exc}"))
            return None

    def _text(self, row: MappingT[str, Any], key: str) -> str:
        parts = _template(self.columns.get(key) or "")
        if not parts:
            return ""
        if len(parts) == 1 and parts[0][1] is not None:
            return " ".join(_cell(row, parts[0][1]).split())
        text = " ".join("".join((lit or "") if col is None else _cell(row, col) for lit, col in parts).split())
        if "()" in text or "( ;" in text:
            text = text.replace("( ;", "(").replace("; )", ")").replace("()", "")
        # A template around empty columns leaves its punctuation behind: trim it.
        if text and (text[0] in _TRIM or text[-1] in _TRIM):
            text = text.strip(_TRIM)
        return text

    def _vocab(self, vm: ValueMap, row: MappingT[str, Any], text: str, errors: list[FieldError]) -> str | None:
        value, error = vm.resolve(row, text)
        if error is not None:
            errors.append(error)
        return value

    def _point(self, row: MappingT[str, Any],
               errors: list[FieldError]) -> tuple[float | None, float | None, str | None]:
        lat_col, lon_col = self.columns.get("lat"), self.columns.get("lon")
        if not lat_col or not lon_col:
            return None, None, None
        lat_raw, lon_raw = _cell(row, lat_col), _cell(row, lon_col)
        where = f"lat/lon ({lat_col}, {lon_col})"
        if not lat_raw and not lon_raw:
            if self.coordinates_required:
                errors.append(reasons.error(where, "coordinates_missing"))
            return None, None, None
        try:
            lat, lon = float(lat_raw), float(lon_raw)
        except ValueError:
            errors.append(reasons.error(where, "coordinates_not_numbers", lat=lat_raw[:40], lon=lon_raw[:40]))
            return None, None, None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            errors.append(reasons.error(where, "not_a_coordinate", lat=lat, lon=lon))
            return None, None, None
        for plat, plon in self.missing_points:
            if abs(lat - plat) < 1e-6 and abs(lon - plon) < 1e-6:
                if self.coordinates_required:
                    errors.append(reasons.error(where, "default_point", lat=lat, lon=lon))
                return None, None, f"({lat}, {lon}) is the source's default point: kept as no location"
        if self.bounds is not None:
            (south, west), (north, east) = self.bounds
            if not (south <= lat <= north and west <= lon <= east):
                errors.append(reasons.error(where, "outside_area", lat=lat, lon=lon, south=south, west=west,
                                            north=north, east=east))
                return None, None, None
        if self.coordinate_system != "wgs84":
            lat, lon = to_wgs84(lat, lon, self.coordinate_system)
            return lat, lon, f"converted from {self.coordinate_system} to wgs84"
        return lat, lon, None

    def _unit(self, row: MappingT[str, Any], errors: list[FieldError]) -> str | None:
        rule = self.unit
        if not rule.column:
            return rule.missing
        raw = _cell(row, rule.column)
        value = rule.clean(raw)
        if not value:
            return rule.missing
        code = rule.map.get(value) or rule.code.replace("{value}", value)
        if self.known_units is not None and code not in self.known_units:
            errors.append(reasons.error(f"unit ({rule.column})", "unknown_district", value=raw, unit=code))
            return None
        return code


_TRIM = " :;,.—-()（）"


@lru_cache(maxsize=64)
def _template(spec: str) -> tuple[tuple[str | None, str | None], ...]:
    """'{A} — {B}' → (literal, None) and (None, column) parts; a plain column name is one part."""
    if not spec:
        return ()
    if "{" not in spec:
        return ((None, spec),)
    parts: list[tuple[str | None, str | None]] = []
    pos = 0
    for m in _TEMPLATE_RE.finditer(spec):
        if m.start() > pos:
            parts.append((spec[pos:m.start()], None))
        parts.append((None, m.group(1)))
        pos = m.end()
    if pos < len(spec):
        parts.append((spec[pos:], None))
    return tuple(parts)


def _cell(row: MappingT[str, Any], column: str | None) -> str:
    if not column:
        return ""
    value = row.get(column)
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel turns ids into floats
    return str(value).strip()
