"""CSV/Excel import with a mapping file: ``python app.py import FILE --mapping MAPPING.yaml``.

    python app.py import data.csv.gz --mapping examples/boston311.yaml [--dry-run] [--batch 2000]

Every row of the file ends up in exactly one of six places, and the run
prints the reconciliation (rows in the file = imported + merged + duplicate
+ excluded + rejected + filtered):

- **imported**: a new ticket (with its intake record and timeline, see
  ``tickets/batch.py`` for how history passes through the domain);
- **merged**: a certain duplicate of an open ticket (``tickets.dedup``),
  kept as a merged intake record of it;
- **duplicate**: its external id (``SOURCE:ID``) is already stored, from an
  earlier run, an earlier row of this file, or a live channel;
- **rejected**: a dead letter (``feeds.dead_letters``) with the raw row and
  every reason, field by field (bad date, closed before opened, unknown
  district code, missing coordinates where the mapping requires them …),
  each a stable code with its parameters (``feeds.import_reasons``), said
  in the run's language (``--lang``, zh-CN or en);
- **excluded**: an open record past its own deadline, left out because the
  mapping says ``open.past_due: exclude``;
- **filtered**: not this mapping's record (the mapping's ``where:``
  conditions do not all hold): counted, not read further, not kept.

Rows are read, checked and written in batches; each batch is one
transaction that also advances the run's ``rows_done``. A crash (or Ctrl-C)
loses at most the batch in flight, which rolls back whole; running the same
command again finds the unfinished run of the same file (by SHA-256) and
mapping and resumes after its last committed row. Running a finished file
again imports nothing: every row comes out as a duplicate.

``--dry-run`` reads and checks every row and makes every decision a real
run would make (duplicates against the database and the file, routing,
deadlines, de-duplication), then writes nothing at all: no tickets, no dead
letters, no import run. Its report is the real run's, row for row.
"""
from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import sessionmaker

from feeds import import_reasons
from feeds.dead_letters import FieldError, reject
from feeds.mapping import Mapping, MappingError
from layouts.i18n import LANGUAGES, N_, gettext, normalise
from tickets import dedup, services
from tickets.batch import Arrival, UnitCache, past_due
from tickets.models import DeadLetter, ImportRun, IntakeRecord, Unit
from tickets.uow import UnitOfWork

DEFAULT_BATCH = 2000
DEAD_LETTER_CHANNEL = "import"


class SimulatedCrash(RuntimeError):
    """Raised by the test hook ``crash_after_batches`` inside a batch's transaction."""


# ------------------------------------------------------------------ reading
def open_rows(path: Path, mapping: Mapping) -> tuple[list[str], Iterator[dict[str, Any]]]:
    """(header, rows as dicts) of a .csv, .csv.gz or .xlsx file."""
    name = path.name.lower()
    if name.endswith(".xlsx"):
        return _xlsx_rows(path, mapping)
    if name.endswith(".xls"):
        raise MappingError(str(path), ["old .xls files are not read: save the sheet as .xlsx or CSV"])
    opener = gzip.open if name.endswith(".gz") else open
    handle = io.TextIOWrapper(opener(path, "rb"), encoding=mapping.encoding, newline="")
    reader = csv.reader(handle, delimiter=mapping.delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        handle.close()
        return [], iter(())

    def rows() -> Iterator[dict[str, Any]]:
        with handle:
            for values in reader:
                if not values or (len(values) == 1 and not values[0].strip()):
                    yield {}  # a blank line is still a row: it is reported, not skipped silently
                    continue
                yield dict(zip(header, values))

    return header, rows()


def _xlsx_rows(path: Path, mapping: Mapping) -> tuple[list[str], Iterator[dict[str, Any]]]:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book[mapping.sheet] if mapping.sheet else book.worksheets[0]
    except KeyError:
        book.close()
        raise MappingError(str(path), [f"format.sheet: no sheet {mapping.sheet!r}; sheets: {book.sheetnames}"]) \
            from None
    it = sheet.iter_rows(values_only=True)
    try:
        header = [str(h).strip() if h is not None else "" for h in next(it)]
    except StopIteration:
        book.close()
        return [], iter(())

    def rows() -> Iterator[dict[str, Any]]:
        try:
            for values in it:
                if values is None or all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                    yield {}
                    continue
                yield {h: v for h, v in zip(header, values) if h}
        finally:
            book.close()

    return header, rows()


def count_rows(path: Path, mapping: Mapping) -> int:
    _header, rows = open_rows(path, mapping)
    return sum(1 for _ in rows)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ------------------------------------------------------------------ report
OUTCOMES = ("imported", "merged", "duplicate", "rejected", "excluded", "filtered")
_OUTCOME_LABELS = (("imported", N_("imported")), ("merged", N_("merged (duplicate of an open ticket)")),
                   ("duplicate", N_("duplicate external id")), ("rejected", N_("rejected (dead letters)")),
                   ("excluded", N_("excluded (open, past their deadline)")), ("filtered", N_("filtered out (where:)")))


class PastDueRefused(ValueError):
    """Open records of the file are past their own deadlines: importing them makes breaches at once.
    Refused before anything is written, unless confirmed (``--yes``) or the mapping says what to do."""

    def __init__(self, count: int, oldest: datetime | None, total_open: int) -> None:
        self.count, self.oldest, self.total_open = count, oldest, total_open
        super().__init__(
            f"{count:,} of the file's {total_open:,} open records are past their own deadlines"
            + (f" (the oldest received {oldest:%Y-%m-%d})" if oldest else "")
            + ": imported, they are breaches at once (the duty console lists them; the sweeps issue them no "
            "supervision orders: they are history). Nothing was written. Run again with --yes to import them "
            "as they are, or set open.past_due in the mapping: keep (the same as --yes), close (closed at the "
            "import, counted late) or exclude (left out, counted in the report).")


@dataclass
class Report:
    file: str
    mapping: str
    dry_run: bool
    rows_total: int = 0
    resumed_from: int = 0  # rows committed by an earlier, interrupted run of the same file
    counts: Counter[str] = field(default_factory=Counter)  # this run and the run it resumed
    # Rejections of this run by (field, reason code): every failing check of a row counts.
    reasons: Counter[tuple[str, str]] = field(default_factory=Counter)
    suggestions: int = 0
    past_due: int = 0  # open records past their own deadline when imported (kept, closed or excluded)
    seconds: float = 0.0
    rows_this_run: int = 0
    run_id: int | None = None
    status: str = "running"
    lang: str = "en"  # the language of the text and of the dead letters' reasons
    sha256: str = ""  # the file's (a refused row without an id is known by file and row)

    @property
    def accounted(self) -> int:
        return sum(self.counts[o] for o in OUTCOMES)

    @property
    def reconciles(self) -> bool:
        return self.accounted == self.rows_total

    @property
    def rate(self) -> float:
        return self.rows_this_run / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "mapping": self.mapping, "dry_run": self.dry_run, "rows_total": self.rows_total,
                "resumed_from": self.resumed_from, **{o: self.counts[o] for o in OUTCOMES},
                "accounted": self.accounted, "reconciles": self.reconciles,
                "rejected_already_kept": self.counts["rejected_known"],
                "rejected_by_reason": [{"field": f, "code": code, "reason": import_reasons.summary(code, self.lang),
                                        "rows": n} for (f, code), n in self.reasons.most_common()],
                "duplicate_suggestions": self.suggestions, "past_due_open": self.past_due,
                "seconds": round(self.seconds, 2),
                "rows_per_second": round(self.rate, 1), "run_id": self.run_id, "status": self.status,
                "lang": self.lang}

    def text(self, lang: str | None = None) -> str:
        lang = lang or self.lang
        w = max(9, len(f"{self.rows_total:,}"))
        total, resumed, suggestions = f"{self.rows_total:,}", f"{self.resumed_from:,}", f"{self.suggestions:,}"
        done, seconds, rate = f"{self.rows_this_run:,}", f"{self.seconds:.1f}", f"{self.rate:,.0f}"
        head = gettext("%(file)s with %(mapping)s", lang, file=self.file, mapping=self.mapping)
        lines = [gettext("DRY RUN (nothing written): %(run)s", lang, run=head) if self.dry_run else head]
        if self.resumed_from:
            lines.append("  " + gettext("resumed after row %(row)s (committed by the interrupted run)", lang,
                                        row=resumed))
        label = gettext("rows in the file", lang)
        lines.append(f"  {_ljust(label, 22)}{self.rows_total:>{w},}")
        for outcome, msgid in _OUTCOME_LABELS:
            if outcome == "excluded" and not self.counts[outcome]:
                continue
            label = gettext(msgid, lang)
            lines.append(f"    {_ljust(label, 38)}{self.counts[outcome]:>{w},}")
            if outcome != "rejected":
                continue
            if self.counts["rejected"]:
                label = gettext("already kept, not stored again", lang)
                lines.append(f"      {_ljust(label, 36)}{self.counts['rejected_known']:>{w},}")
            if self.reasons and self.resumed_from:
                lines.append("        " + gettext("by reason, rows of this run:", lang))
            for (field_, code), n in self.reasons.most_common():
                reason = field_ + ": " + import_reasons.summary(code, lang)
                lines.append(f"        {_ljust(reason, 62)}{n:>{w},}")
        mark = (gettext("= rows in the file ✓", lang) if self.reconciles
                else gettext("≠ %(rows)s rows in the file ✗", lang, rows=total))
        label = gettext("accounted for", lang)
        lines.append(f"  {_ljust(label, 22)}{self.accounted:>{w},}  {mark}")
        if self.suggestions:
            lines.append("  " + gettext("duplicate suggestions for the dispatcher: %(count)s", lang,
                                        count=suggestions))
        if self.past_due:
            past_due = f"{self.past_due:,}"
            lines.append("  " + gettext("open records past their own deadline: %(count)s", lang, count=past_due))
        lines.append("  " + gettext("%(rows)s rows in %(seconds)s s (%(rate)s rows/s)", lang, rows=done,
                                    seconds=seconds, rate=rate))
        return "\n".join(lines)


def _ljust(text_: str, width: int) -> str:
    """``text_`` padded to ``width`` terminal columns (a Chinese character takes two)."""
    shown = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text_)
    return text_ + " " * max(1, width - shown)


def reason_key(error: FieldError) -> tuple[str, str]:
    """(field, code) of a coded reason: ``('closed_at (CLOSED_DT)', 'closed_before_opened')``; another
    reason's code is its message up to its details."""
    return error.field, error.code or error.message.split(":", 1)[0]


# --------------------------------------------------------------------- run
@dataclass
class _Row:
    number: int  # 1-based data row (the header is not counted)
    raw: dict[str, Any]
    parsed: Arrival | list[FieldError] | None  # None: filtered out by the mapping's where:


def run_import(
    factory: sessionmaker[UnitOfWork],
    path: str | Path,
    mapping: Mapping | str | Path,
    tz: Any,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    batch: int = DEFAULT_BATCH,
    progress: bool = False,
    crash_after_batches: int | None = None,
    dedup_params: dedup.Params | None = None,
    on_batch: Callable[[Report], None] | None = None,
    confirm_past_due: bool = False,
    lang: str = "en",
) -> Report:
    """Import ``path`` (see the module docstring); returns the report. Open records already past
    their own deadline are refused as a whole (:class:`PastDueRefused`, nothing written) unless
    ``confirm_past_due`` or the mapping's ``open.past_due`` says what to do with them."""
    path = Path(path)
    if not isinstance(mapping, Mapping):
        mapping = Mapping.load(mapping)
    if batch < 1:
        raise ValueError("--batch must be at least 1")
    now = now or datetime.now(timezone.utc)
    if dedup_params is None:
        with factory() as session:
            dedup_params = session.config.dedup
    params = dedup_params
    if mapping.dedup_mode is not None:
        params = replace(params, mode=mapping.dedup_mode)
    started = time.perf_counter()
    report = Report(file=path.name, mapping=mapping.name, dry_run=dry_run, lang=normalise(lang))

    with factory() as session:
        mapping.known_units = frozenset(session.scalars(select(Unit.code).where(Unit.active.is_(True))))
    if not mapping.known_units:
        raise MappingError(str(path), [("no units in the database: load the bureau's first "
                                        "(python app.py demo load --file BUREAU.yaml)")])
    header, rows = open_rows(path, mapping)
    if not header:
        raise MappingError(str(path), ["the file is empty (no header row)"])
    mapping.check_header(header, str(path))
    report.rows_total = count_rows(path, mapping)
    sha = report.sha256 = file_sha256(path)
    if mapping.past_due == "ask" and not confirm_past_due and not dry_run:
        _refuse_past_due(path, mapping, now, tz)

    run = None if dry_run else _start_run(factory, path, sha, mapping, report)
    # The run's own candidate index: history is not in time order across a file, so it keeps
    # every open ticket it has seen (a year of open tickets is a few MB), and a dry run's
    # rolled-back tickets never reach the index that live intake in this process uses.
    index = dedup.CandidateIndex(resolution=params.h3_resolution, rings=params.h3_rings, keep_hours=24 * 3660,
                                 load_ahead_hours=24 * 7)
    units = UnitCache()
    channels = mapping.channels()
    seen: set[str] = set()
    kept: set[str] = set()  # fingerprints of the dead letters this run kept (a dry run's are rolled back)

    bar = _progress(report, progress)
    batches = 0
    try:
        pending: list[_Row] = []
        for number, raw in enumerate(rows, start=1):
            if number <= report.resumed_from:
                continue
            where = f"{path.name} row {number}"
            if not raw:  # a blank line is refused (reported), never filtered
                pending.append(_Row(number, raw, [import_reasons.error("row", "blank_line")]))
            elif not mapping.keep(raw):  # not this mapping's: counted, neither read nor kept
                pending.append(_Row(number, raw, None))
            else:
                pending.append(_Row(number, raw, mapping.parse(raw, where, now)))
            if len(pending) >= batch:
                _write_batch(factory, pending, report, run, mapping, channels, seen, now, tz, params, index,
                             units, dry_run,
                             crash=crash_after_batches is not None and batches >= crash_after_batches, kept=kept)
                batches += 1
                if not dry_run and batches in (1, 4, 16, 64, 256):
                    _analyze(factory)
                bar(len(pending))
                pending = []
                if on_batch:
                    on_batch(report)
        if pending:
            _write_batch(factory, pending, report, run, mapping, channels, seen, now, tz, params, index,
                         units, dry_run, crash=crash_after_batches is not None and batches >= crash_after_batches,
                         kept=kept)
            bar(len(pending))
        report.status = "done"
    except BaseException:
        report.status = "failed"
        if run is not None:
            try:
                _finish_run(factory, run, "failed")
            except Exception:  # the database itself may be what failed: keep the first error
                pass
        raise
    finally:
        report.seconds = time.perf_counter() - started
        bar(0, close=True)
    if run is not None:
        _finish_run(factory, run, "done")
        report.run_id = run
    return report


def _refuse_past_due(path: Path, mapping: Mapping, now: datetime, tz: Any) -> None:
    """Read the file once, before anything is written: raise :class:`PastDueRefused` if open
    records are past their own deadlines."""
    plans: dict[tuple[Any, ...], Any] = {}
    count = total = 0
    oldest: datetime | None = None
    _, rows = open_rows(path, mapping)
    for number, raw in enumerate(rows, start=1):
        parsed = mapping.parse(raw, f"{path.name} row {number}", now) if raw and mapping.keep(raw) else None
        if not isinstance(parsed, Arrival) or parsed.closed_at is not None:
            continue
        total += 1
        if past_due(parsed, now, tz, plans):
            count += 1
            received = parsed.request.received_at
            oldest = received if oldest is None or received < oldest else oldest
    if count:
        raise PastDueRefused(count, oldest, total)


def _analyze(factory: sessionmaker[UnitOfWork]) -> None:
    """PostgreSQL plans from table statistics, which a bulk load outruns (autovacuum comes
    late): a duplicate-id lookup planned for an empty table became a scan of 100,000 rows
    per batch. Refresh them as the tables grow."""
    with factory() as session:
        if session.get_bind().dialect.name != "postgresql":
            return
        with session.begin():
            session.execute(text("ANALYZE tickets, intake_records, ticket_events"))


def _progress(report: Report, enabled: bool) -> Callable[..., None]:
    if not enabled:
        return lambda n, close=False: None
    from tqdm import tqdm  # a dependency

    bar = tqdm(total=report.rows_total, initial=report.resumed_from, unit="rows", file=sys.stderr,
               desc=report.file, dynamic_ncols=True, smoothing=0.1)

    def step(n: int, close: bool = False) -> None:
        bar.update(n)
        if close:
            bar.close()
    return step


def _start_run(factory: sessionmaker[UnitOfWork], path: Path, sha: str, mapping: Mapping, report: Report) -> int:
    """Resume the unfinished run of this file and mapping, or start a new one."""
    with factory() as session, session.begin():
        unfinished = session.scalar(
            select(ImportRun).where(ImportRun.file_sha256 == sha, ImportRun.mapping_name == mapping.name,
                                    ImportRun.dry_run.is_(False), ImportRun.status != "done")
            .order_by(ImportRun.id.desc()).limit(1))
        if unfinished is not None:
            unfinished.status = "running"
            report.resumed_from = unfinished.rows_done
            report.counts.update({"imported": unfinished.rows_imported, "merged": unfinished.rows_merged,
                                  "duplicate": unfinished.rows_duplicate, "rejected": unfinished.rows_rejected,
                                  "excluded": unfinished.rows_excluded, "filtered": unfinished.rows_filtered,
                                  "rejected_known": unfinished.rows_rejected_known})
            return unfinished.id
        run = ImportRun(file_name=str(path.name)[:300], file_sha256=sha, mapping_name=mapping.name[:200],
                        rows_total=report.rows_total, status="running", dry_run=False)
        session.add(run)
        session.flush()
        return run.id


def _finish_run(factory: sessionmaker[UnitOfWork], run_id: int, status: str) -> None:
    with factory() as session, session.begin():
        run = session.get(ImportRun, run_id)
        if run is not None:
            run.status = status
            if status == "done":
                run.finished_at = datetime.now(timezone.utc)


def _write_batch(factory: sessionmaker[UnitOfWork], rows: list[_Row], report: Report, run_id: int | None,
                 mapping: Mapping, channels: set[str], seen: set[str], now: datetime, tz: Any,
                 params: dedup.Params, index: dedup.CandidateIndex, units: UnitCache,
                 dry_run: bool, crash: bool, kept: set[str]) -> None:
    counts: Counter[str] = Counter()
    reasons: Counter[tuple[str, str]] = Counter()
    suggestions = 0
    past = 0
    plans: dict[tuple[Any, ...], Any] = {}
    seen_here: set[str] = set()
    session = factory()
    try:
        session.begin()
        records = [r for r in rows if isinstance(r.parsed, Arrival)]
        ids = [r.parsed.request.external_id for r in records]  # type: ignore[union-attr]
        stored: set[str] = set()
        # One channel at a time, so the lookup walks the (channel, external_id) unique index;
        # in chunks, since PostgreSQL takes 65,535 parameters at most.
        for channel in sorted(channels):
            for start in range(0, len(ids), 1000):
                stored.update(session.scalars(select(IntakeRecord.external_id).where(
                    IntakeRecord.channel == channel, IntakeRecord.external_id.in_(ids[start:start + 1000]))))
        fresh: list[Arrival] = []
        refused = [r for r in rows if isinstance(r.parsed, list)]
        kept_here = _keep_dead_letters(session, refused, report, mapping, kept, counts, dry_run)
        for r in rows:
            if r.parsed is None:
                counts["filtered"] += 1
                continue
            if isinstance(r.parsed, list):
                reasons.update({reason_key(e) for e in r.parsed})
                continue
            ext = r.parsed.request.external_id
            if ext in stored or ext in seen or ext in seen_here:
                counts["duplicate"] += 1
                continue
            seen_here.add(ext)
            arrival = r.parsed
            if arrival.closed_at is None and past_due(arrival, now, tz, plans):
                past += 1
                if mapping.past_due == "exclude":
                    counts["excluded"] += 1
                    continue
                if mapping.past_due == "close":  # closed by the import: late, and said so
                    arrival = replace(arrival, closed_at=max(now, arrival.request.received_at),
                                      source_status=f"{arrival.source_status or 'open'} (closed by the import: "
                                                    "past its deadline)")
            fresh.append(arrival)
        outcomes = services.import_records(
            session, fresh, provenance={"run": run_id, "file": report.file, "mapping": mapping.name}, now=now,
            params=params, index=index, units=units, dry_run=dry_run)
        for outcome in outcomes:
            counts["imported" if outcome.kind == "new" else outcome.kind] += 1
            suggestions += outcome.suggestions
        if run_id is not None:
            run = session.get(ImportRun, run_id)
            assert run is not None
            run.rows_done = rows[-1].number
            run.rows_imported += counts["imported"]
            run.rows_merged += counts["merged"]
            run.rows_duplicate += counts["duplicate"]
            run.rows_rejected += counts["rejected"]
            run.rows_excluded += counts["excluded"]
            run.rows_filtered += counts["filtered"]
            run.rows_rejected_known += counts["rejected_known"]
        session.flush()
        if crash:
            raise SimulatedCrash(f"simulated crash in the batch ending at row {rows[-1].number}")
        if dry_run:
            session.rollback()
        else:
            session.commit()
    except BaseException:
        session.rollback()
        # What this batch added to the run's memory was rolled back with it.
        index.clear()
        raise
    finally:
        session.close()
    seen.update(seen_here)
    kept.update(kept_here)
    report.counts.update(counts)
    report.reasons.update(reasons)
    report.suggestions += suggestions
    report.past_due += past
    report.rows_this_run += len(rows)


def _keep_dead_letters(session: UnitOfWork, refused: list[_Row], report: Report, mapping: Mapping,
                       kept: set[str], counts: Counter[str], dry_run: bool) -> set[str]:
    """Keep each refused row as a dead letter, once: a row refused again (a finished file run
    again, the same record in a later export) for the same reasons is counted, not stored again.
    Returns the fingerprints this batch kept."""
    letters = []
    for r in refused:
        assert isinstance(r.parsed, list)
        payload = json.dumps(r.raw, ensure_ascii=False, default=str)
        ext = mapping.external_id(r.raw)
        letters.append((r, r.parsed, payload, ext, _fingerprint(mapping.source, ext, report.sha256, r.number,
                                                                 payload, r.parsed)))
    known: set[str] = set()
    prints = [letter[-1] for letter in letters]
    for start in range(0, len(prints), 1000):
        known.update(f for f in session.scalars(select(DeadLetter.fingerprint).where(
            DeadLetter.fingerprint.in_(prints[start:start + 1000]))) if f)
    kept_here: set[str] = set()
    id_column = mapping.columns["external_id"]
    for r, errors, payload, ext, fingerprint in letters:
        counts["rejected"] += 1
        if fingerprint in known or fingerprint in kept or fingerprint in kept_here:
            counts["rejected_known"] += 1
            continue
        kept_here.add(fingerprint)
        if dry_run:
            continue
        raw_id = ext.split(":", 1)[1] if ext else ""
        # The source's own id beside the row number (the column is cut to 64: an id that long keeps it here).
        where = f"{id_column} {raw_id[:64]}; " if raw_id else ""
        reject(session, DEAD_LETTER_CHANNEL, f"{report.file} row {r.number} ({where}mapping {mapping.name})",
               payload, import_reasons.in_language(errors, report.lang),
               external_id=ext if 0 < len(ext) <= 64 else None, fingerprint=fingerprint)
    return kept_here


def _fingerprint(source: str, external_id: str, sha256: str, number: int, payload: str,
                 errors: list[FieldError]) -> str:
    """What makes a refusal the same one: the source's record (its id, or without one the file and
    row), the row exactly as read, and the reasons by code and params (not by words: a run in the
    other language refuses the same way)."""
    reasons = sorted(json.dumps([e.field, e.code or e.message, e.params or {}], sort_keys=True, ensure_ascii=False,
                                default=str) for e in errors)
    record: dict[str, Any] = {"id": external_id} if external_id else {"file": sha256, "row": number}
    key = {"source": source, **record, "payload": payload, "reasons": reasons}
    return hashlib.sha256(json.dumps(key, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------- CLI
def add_commands(sub: Any) -> None:
    p = sub.add_parser("import", help="import a CSV/Excel file with a mapping (YAML)",
                       description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("file", help=".csv, .csv.gz or .xlsx")
    p.add_argument("--mapping", required=True, help="mapping YAML, e.g. examples/boston311.yaml")
    p.add_argument("--dry-run", action="store_true", help="report what would happen; write nothing")
    p.add_argument("--batch", type=int, default=DEFAULT_BATCH, help=f"rows per transaction (default {DEFAULT_BATCH})")
    p.add_argument("--report", help="also write the report as JSON to this file")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--yes", action="store_true",
                   help="import open records already past their own deadlines (breaches at once) without asking")
    p.add_argument("--lang", choices=LANGUAGES, help="the language of the report and of the dead letters' "
                   "reasons (default: the language setting, MINSHENG_LANGUAGE)")
    p.set_defaults(func=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    import settings as settings_module
    from tickets.bootstrap import session_factory

    cfg = settings_module.load()
    factory = session_factory(cfg.database_url, cfg)
    try:
        mapping = Mapping.load(args.mapping)
        report = run_import(factory, args.file, mapping, cfg.tz, dry_run=args.dry_run, batch=args.batch,
                            progress=not args.no_progress, confirm_past_due=args.yes,
                            lang=args.lang or cfg.language)
    except PastDueRefused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 3
    except MappingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: the batch in flight was rolled back; run the same command again to resume",
              file=sys.stderr)
        return 130
    print(report.text())
    if args.report:
        Path(args.report).write_text(json.dumps(report.as_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    return 0 if report.reconciles else 1
