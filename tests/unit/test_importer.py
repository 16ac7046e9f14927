"""CSV/Excel import with a mapping file (feeds/importer.py, feeds/mapping.py, tickets/batch.py)."""
from __future__ import annotations

import csv
import gzip
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from feeds.importer import OUTCOMES, SimulatedCrash, run_import
from feeds.mapping import DateReader, Mapping, MappingError, strptime_format
from geo.coords import wgs84_to_bd09, wgs84_to_gcj02
from tests.helpers import (
    BOSTON_MAPPING, BOSTON_SAMPLE, HEADER, HOTLINE_MAPPING, NEW_YORK, ROOT, TZ, bureau_database, hotline_row,
    outbox_events, write_csv,
)
from tickets.models import Base, DeadLetter, ImportRun, IntakeRecord, Ticket, TicketEvent

NY = NEW_YORK  # the Boston bureau's zone
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


def table_counts(factory: sessionmaker[Session]) -> dict[str, int]:
    with factory() as s:
        return {t.name: s.scalar(select(func.count()).select_from(t)) or 0 for t in Base.metadata.sorted_tables}


def write_mapping(tmp_path: Path, data: dict[str, Any], name: str = "m.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


# ----------------------------------------------------------------- mapping
def test_mapping_errors_are_all_reported_with_their_keys(tmp_path: Path) -> None:
    bad = {
        "name": "broken", "timezone": "Mars/Olympus", "shoe_size": 42,
        "dates": {"formats": ["no date here"]},
        "columns": {"received_at": "OPEN_DT", "title": "T", "lat": "LAT"},
        "channel": {"column": "Source", "map": {"Phone": "telegraph"}},
        "topic": {"value": "noise"}, "kind": {"value": "complaint"}, "sla_class": {"value": "urgent"},
        "coordinates": {"system": "mercator"}, "due": {"missing": "whenever"}, "dedup": {"mode": "sometimes"},
        "unit": {"column": "district", "code": "BOS"},
    }
    with pytest.raises(MappingError) as caught:
        Mapping.from_dict(bad, "broken.yaml")
    text = str(caught.value)
    for expected in ("shoe_size", "timezone: unknown time zone 'Mars/Olympus'", "dates.formats: 'no date here'",
                     "columns.external_id: required", "lat and lon go together", "channel.map['Phone']: 'telegraph'",
                     "sla_class.value: 'urgent'", "coordinates.system: 'mercator'", "due.missing",
                     "dedup.mode", "unit.code"):
        assert expected in text, expected
    assert len(caught.value.problems) >= 11

    # A mapping that is fine on its own but names a column the file lacks.
    mapping = Mapping.load(BOSTON_MAPPING)
    with pytest.raises(MappingError, match=r"\['TARGET_DT'\] named in the mapping are not in the file"):
        mapping.check_header([h for h in _boston_header() if h != "TARGET_DT"], "x.csv")


def _boston_header() -> list[str]:
    with gzip.open(BOSTON_SAMPLE, "rt", encoding="utf-8") as f:
        return next(csv.reader(f))


def test_date_formats_as_sources_write_them() -> None:
    assert strptime_format("MM/DD/YYYY hh:mm:ss AM") == "%m/%d/%Y %I:%M:%S %p"
    assert strptime_format("yyyy-MM-dd HH:mm:ss") == "%Y-%m-%d %H:%M:%S"
    assert strptime_format("%d.%m.%Y %H:%M") == "%d.%m.%Y %H:%M"
    boston = DateReader((strptime_format("MM/DD/YYYY hh:mm:ss AM"),), NY)
    assert boston.read("01/05/2015 12:40:41 PM") == datetime(2015, 1, 5, 17, 40, 41, tzinfo=timezone.utc)
    assert boston.read("01/05/2015 12:40:41 AM") == datetime(2015, 1, 5, 5, 40, 41, tzinfo=timezone.utc)
    assert boston.read("07/04/2015 01:00:00 PM") == datetime(2015, 7, 4, 17, 0, tzinfo=timezone.utc)  # EDT
    for bad in ("13/05/2015 12:40:41 PM", "01/05/2015 13:40:41 PM", "2015-01-05 12:40:41", ""):
        with pytest.raises(ValueError, match="matches none of the formats"):
            boston.read(bad)
    china = DateReader((strptime_format("yyyy-MM-dd HH:mm:ss"), strptime_format("yyyy-MM-dd"), "iso"), TZ)
    assert china.read("2024-06-12 09:30:00") == datetime(2024, 6, 12, 1, 30, tzinfo=timezone.utc)
    # A deadline that is a bare date is the end of that day, in the source's zone.
    assert china.read("2024-06-12", end_of_day=True) == datetime(2024, 6, 12, 15, 59, 59, tzinfo=timezone.utc)
    assert china.read("2024-06-12T09:30:00+00:00") == datetime(2024, 6, 12, 9, 30, tzinfo=timezone.utc)
    assert china.read(datetime(2024, 6, 12, 9, 30)) == datetime(2024, 6, 12, 1, 30, tzinfo=timezone.utc)  # Excel


def test_bad_rows_become_dead_letters_with_every_reason(tmp_path: Path, jinan_db: sessionmaker[Session]) -> None:
    mapping = {**HOTLINE_MAPPING, "coordinates": {"system": "gcj02", "required": True,
                                                  "bounds": [[34, 114], [38, 119]]}}
    rows = [
        hotline_row(1),                                                   # fine
        hotline_row(2, at="2026/11/18 9:00"),                            # bad date
        hotline_row(3, closed="2026-11-17 08:00:00", status="2"),       # closed before opened
        hotline_row(4, status="7"),                                      # unknown status
        hotline_row(5, closed="2026-11-18 10:00:00", status="1"),       # open, yet a close time
        hotline_row(6, status="2"),                                      # closed without a close time
        hotline_row(7, kind="闲聊"),                                      # an unknown kind: the default
        hotline_row(8, at="2027-01-01 00:00:00"),                       # in the future
        hotline_row(9, content="很长" * 10_001),                           # oversize (20,002 > 20,000)
    ]
    rows.append(hotline_row(10)[:11] + ["", "", "13905310010", "王女士"])  # no point, but points are required
    rows.append(hotline_row(11)[:11] + ["abc", "117.0", "13905310011", "王女士"])  # not a number
    rows.append(hotline_row(12)[:11] + ["22.5", "114.0", "13905310012", "王女士"])  # outside the area
    rows.append(hotline_row(13, at="", closed="2026-11-19 08:00:00x", status="2"))  # two problems at once
    path = write_csv(tmp_path / "hotline.csv", rows)
    report = run_import(jinan_db, path, Mapping.from_dict(mapping), TZ, now=NOW)
    assert report.reconciles and report.rows_total == 13
    assert report.counts["imported"] == 2  # rows 1 and 7 (its kind falls back to the default)
    assert report.counts["rejected"] == 11
    letters = letters_by_row(jinan_db)

    def messages(row: int) -> str:
        return json.dumps(letters[row].errors, ensure_ascii=False)
    assert "bad date" in messages(2) and "2026/11/18 9:00" in messages(2)
    assert "closed before opened" in messages(3)
    assert "unknown status '7'" in messages(4)
    assert "is open ('1') but has a close time" in messages(5)
    assert "closed but has no close time" in messages(6)
    assert "in the future" in messages(8)
    assert "oversize" in messages(9)
    assert "missing coordinates" in messages(10)
    assert "not numbers" in messages(11)
    assert "outside the source's area" in messages(12)
    assert "received_at (派单时间)" in messages(13) and "closed_at (办结时间)" in messages(13)
    # The raw row is kept exactly, with its external id, for inspection and reprocessing.
    assert json.loads(letters[3].payload)["工单编号"] == "GS20261118000003"
    assert letters[3].external_id == "jn12345:GS20261118000003"
    assert letters[3].channel == "import"
    assert report.reasons[("closed_at (办结时间)", "closed_before_opened")] == 1


def test_coordinates_are_converted_to_wgs84_on_the_way_in(tmp_path: Path, jinan_db: sessionmaker[Session]) -> None:
    truth = [(36.6616, 117.0200), (36.6750, 117.0600), (36.6480, 116.9900)]
    rows = []
    for n, (lat, lon) in enumerate(truth, start=1):
        row = hotline_row(n, point=(lat, lon), title=f"事项{n}", content=f"第{n}件不同的事情：{'甲乙丙'[n - 1] * 5}",
                          phone=f"1380000000{n}")
        rows.append(row)
    # The same points given in Baidu's BD-09 by another source.
    bd_rows = []
    for n, (lat, lon) in enumerate(truth, start=4):
        row = hotline_row(n, title=f"事项{n}", content=f"另一来源第{n}件：{'丁戊己'[n - 4] * 5}",
                          phone=f"1380000001{n}")
        blat, blon = wgs84_to_bd09(lat, lon)
        row[11], row[12] = f"{blat:.8f}", f"{blon:.8f}"
        bd_rows.append(row)
    run_import(jinan_db, write_csv(tmp_path / "gcj.csv", rows), Mapping.from_dict(HOTLINE_MAPPING), TZ, now=NOW)
    bd = {**HOTLINE_MAPPING, "name": "bd", "source": "bd", "coordinates": {"system": "bd09"}}
    run_import(jinan_db, write_csv(tmp_path / "bd.csv", bd_rows), Mapping.from_dict(bd), TZ, now=NOW)
    with jinan_db() as s:
        got = {t.title: (t.lat, t.lon) for t in s.scalars(select(Ticket))}
    for n, (lat, lon) in enumerate(truth * 2, start=1):
        glat, glon = got[f"事项{n}"]
        assert abs(glat - lat) < 2e-6 and abs(glon - lon) < 2e-6, (n, glat, glon, lat, lon)
    # Unconverted, a GCJ-02 point is hundreds of metres off: the conversion is not a no-op.
    _raw_lat, raw_lon = wgs84_to_gcj02(*truth[0])
    assert abs(raw_lon - truth[0][1]) > 0.004


def test_dry_run_writes_nothing_and_reports_what_a_run_would_do(tmp_path: Path,
                                                                boston_db: sessionmaker[Session]) -> None:
    before = table_counts(boston_db)
    dry = run_import(boston_db, BOSTON_SAMPLE, BOSTON_MAPPING, NY, now=NOW, dry_run=True, batch=500)
    assert table_counts(boston_db) == before  # not a ticket, a dead letter or an import run
    assert dry.reconciles and dry.rows_total == 2000 and dry.dry_run
    real = run_import(boston_db, BOSTON_SAMPLE, BOSTON_MAPPING, NY, now=NOW, batch=500)
    assert {o: real.counts[o] for o in OUTCOMES} == {o: dry.counts[o] for o in OUTCOMES}
    assert real.reasons == dry.reasons and real.suggestions == dry.suggestions
    assert table_counts(boston_db)["tickets"] == real.counts["imported"]


def test_a_crash_mid_import_loses_nothing_and_doubles_nothing(tmp_path: Path, boston_db: sessionmaker[Session]) -> None:
    with pytest.raises(SimulatedCrash):
        run_import(boston_db, BOSTON_SAMPLE, BOSTON_MAPPING, NY, now=NOW, batch=300, crash_after_batches=3)
    with boston_db() as s:
        run = s.scalars(select(ImportRun)).one()
        assert (run.status, run.rows_done) == ("failed", 900)  # three batches committed, the fourth rolled back
        done_tickets = s.scalar(select(func.count()).select_from(Ticket))
        assert done_tickets == run.rows_imported and done_tickets > 800
        assert s.scalar(select(func.count()).select_from(DeadLetter)) == run.rows_rejected

    resumed = run_import(boston_db, BOSTON_SAMPLE, BOSTON_MAPPING, NY, now=NOW, batch=300)
    assert resumed.resumed_from == 900 and resumed.rows_this_run == 1100
    assert resumed.reconciles and resumed.accounted == 2000 and resumed.counts["duplicate"] == 0
    with boston_db() as s:
        tickets = s.scalar(select(func.count()).select_from(Ticket))
        records = s.scalar(select(func.count()).select_from(IntakeRecord))
        distinct_ids = s.scalar(select(func.count(IntakeRecord.external_id.distinct())))
        letters = s.scalar(select(func.count()).select_from(DeadLetter))
        runs = s.scalars(select(ImportRun)).all()
    assert tickets == records == distinct_ids == resumed.counts["imported"]
    assert letters == resumed.counts["rejected"]
    assert tickets + letters == 2000
    assert [(r.status, r.rows_done) for r in runs] == [("done", 2000)]  # the same run, resumed

    # Against an uninterrupted import of the same file into a fresh database: the same result.
    straight = bureau_database(f"sqlite:///{tmp_path / 'straight.db'}", "boston_bureau.yaml", tz=NY)
    once = run_import(straight, BOSTON_SAMPLE, BOSTON_MAPPING, NY, now=NOW, batch=300)
    assert {o: once.counts[o] for o in OUTCOMES} == {o: resumed.counts[o] for o in OUTCOMES}
    with boston_db() as a, straight() as b:
        def key(s: Session) -> set[tuple[Any, ...]]:
            return set(s.execute(select(IntakeRecord.external_id, Ticket.status, Ticket.closed_at,
                                        Ticket.resolve_due_at).join(Ticket)).all())
        assert key(a) == key(b)


def test_the_same_file_twice_imports_nothing_new(boston_db: sessionmaker[Session]) -> None:
    first = run_import(boston_db, BOSTON_SAMPLE, BOSTON_MAPPING, NY, now=NOW)
    before = table_counts(boston_db)
    second = run_import(boston_db, BOSTON_SAMPLE, BOSTON_MAPPING, NY, now=NOW)
    after = table_counts(boston_db)
    assert second.counts["duplicate"] == first.counts["imported"]
    assert second.counts["imported"] == second.counts["merged"] == 0
    assert second.counts["rejected"] == first.counts["rejected"]  # bad rows are refused again, and kept again
    assert after["import_runs"] == before["import_runs"] + 1
    for table in ("tickets", "intake_records", "ticket_events", "outbox", "duplicate_suggestions"):
        assert after[table] == before[table], table


def test_excel_files_import_like_csv(tmp_path: Path, jinan_db: sessionmaker[Session]) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "工单"
    sheet.append(HEADER)
    row1 = hotline_row(1)
    row1[1] = datetime(2026, 11, 18, 9, 0)  # a real Excel date cell (no zone: the source's)
    row1[0] = 20261118001  # ids typed as numbers turn into floats in some exports
    sheet.append(row1)
    row2 = hotline_row(2, closed="2026-11-18 15:00:00", status="2", due="2026-11-18", title="咨询护照办理",
                       content="想咨询一下护照加急怎么办理", kind="咨询")
    row2[11], row2[12] = 36.66, 117.02  # numeric cells
    sheet.append(row2)
    sheet.append([None] * len(HEADER))  # a blank row is reported, not skipped
    path = tmp_path / "orders.xlsx"
    book.save(path)
    mapping = Mapping.from_dict({**HOTLINE_MAPPING, "format": {"sheet": "工单"}})
    report = run_import(jinan_db, path, mapping, TZ, now=NOW)
    assert report.reconciles and report.rows_total == 3
    assert (report.counts["imported"], report.counts["rejected"]) == (2, 1)
    with jinan_db() as s:
        tickets = {r.external_id: r.ticket for r in s.scalars(select(IntakeRecord))}
        first = tickets["jn12345:20261118001"]
        assert first.received_at == datetime(2026, 11, 18, 1, 0, tzinfo=timezone.utc)
        closed = tickets["jn12345:GS20261118000002"]
        assert closed.status == "closed" and closed.topic == "exit_entry"
        assert closed.closed_at == datetime(2026, 11, 18, 7, 0, tzinfo=timezone.utc)
        assert closed.resolve_due_at == datetime(2026, 11, 18, 15, 59, 59, tzinfo=timezone.utc)  # the bare date
        assert s.scalars(select(DeadLetter)).one().errors == [{"field": "row", "message": "empty: a blank line",
                                                               "code": "blank_line", "params": {}}]


def test_history_passes_through_the_domain_without_invented_steps(tmp_path: Path,
                                                                  jinan_db: sessionmaker[Session]) -> None:
    rows = [
        hotline_row(1, closed="2026-11-18 15:00:00", status="2", due="2026-11-18 12:00:00"),  # closed late
        hotline_row(2, due="2026-11-19 12:00:00", title="盗窃", content="电动车被盗", phone="13700000002"),  # open
        hotline_row(3, closed="2026-11-18 10:00:00", status="2", title="咨询户口", content="咨询户口迁移",
                    phone="13700000003"),  # no deadline from the source: the SLA policy's
    ]
    run_import(jinan_db, write_csv(tmp_path / "h.csv", rows), Mapping.from_dict(HOTLINE_MAPPING), TZ, now=NOW)
    with jinan_db() as s:
        by_id = {r.external_id: r.ticket for r in s.scalars(select(IntakeRecord))}
        late, open_, no_due = (by_id[f"jn12345:GS2026111800000{n}"] for n in (1, 2, 3))
        assert late.status == "closed" and late.closed_at > late.resolve_due_at
        assert late.dispatched_at is None and late.contacted_at is None and late.replied_at is None
        assert [e.kind for e in late.events] == ["received", "imported_closed"]
        assert late.events[1].data["due_from"] == "source"
        assert late.unit is not None and late.unit.code.startswith("JN-LX")  # routed by its place
        # Open history runs on its own time: dispatched when its source received it, no contact
        # deadline (the source had none), history (no supervision orders from the sweeps).
        assert open_.status == "dispatched" and open_.dispatched_at == open_.received_at < NOW
        assert open_.contact_due_at is None and open_.history and late.history and no_due.history
        assert no_due.contact_due_at is None and no_due.calendar is None  # the bureau's own calendar
        assert open_.resolve_due_at == datetime(2026, 11, 19, 4, 0, tzinfo=timezone.utc)
        assert [e.kind for e in open_.events] == ["received", "dispatched"]
        assert no_due.events[1].data["due_from"] == "sla" and no_due.resolve_due_at is not None
        # Only the open ticket reaches the live path.
        assert [e["event"] for e in outbox_events(s)] == ["received", "dispatched"]
        assert all(e["ticket"]["number"] == open_.number for e in outbox_events(s))
        assert s.scalar(select(func.count()).select_from(TicketEvent)) == 6


def test_certain_duplicates_in_an_import_are_merged(tmp_path: Path, jinan_db: sessionmaker[Session]) -> None:
    rows = [
        hotline_row(1, point=(36.6593, 116.9935), phone="13905310101", title="纬二路KTV深夜噪音扰民",
                    content="市中区纬二路与经四路交叉口一家KTV每晚营业到凌晨两三点，音响声音很大，附近居民无法休息。",
                    district="市中区"),
        hotline_row(2, point=(36.6597, 116.9928), phone="13905310101", source="信箱", at="2026-11-18 21:00:00",
                    title="经四路KTV扰民", content="经四路纬二路口那家KTV每天夜里唱到两三点，音响太吵，请处理。",
                    district="市中区"),
        hotline_row(3, point=(36.6880, 117.0500), phone="13905319999", title="咨询身份证补办",
                    content="身份证丢了怎么补办", kind="咨询", district="历城区"),
    ]
    report = run_import(jinan_db, write_csv(tmp_path / "d.csv", rows), Mapping.from_dict(HOTLINE_MAPPING), TZ, now=NOW)
    assert (report.counts["imported"], report.counts["merged"]) == (2, 1)
    with jinan_db() as s:
        records = s.scalars(select(IntakeRecord).order_by(IntakeRecord.id)).all()
        merged = [r for r in records if r.merged]
        assert len(merged) == 1 and merged[0].channel == "director_mailbox"
        target = merged[0].ticket
        assert {r.channel for r in target.intake_records} == {"hotline_12345", "director_mailbox"}
        assert target.events[-1].kind == "record_merged"


def test_command_line_import_dry_run_and_replay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    import app

    db = tmp_path / "cli.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("MINSHENG_TIMEZONE", "America/New_York")
    assert app.main(["db", "upgrade"]) == 0
    assert app.main(["demo", "load", "--file", str(ROOT / "examples" / "boston_bureau.yaml"), "--no-accounts"]) == 0
    capsys.readouterr()
    assert app.main(["import", str(BOSTON_SAMPLE), "--mapping", str(BOSTON_MAPPING), "--dry-run",
                     "--no-progress"]) == 0
    out = capsys.readouterr().out  # in the platform's language by default: zh-CN
    assert "试运行（未写入任何数据）" in out and "已核对" in out and "2,000  = 文件行数 ✓" in out
    assert "closed_at (CLOSED_DT): 办结早于受理" in out
    report = tmp_path / "report.json"
    assert app.main(["import", str(BOSTON_SAMPLE), "--mapping", str(BOSTON_MAPPING), "--no-progress",
                     "--report", str(report), "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "accounted for             2,000  = rows in the file ✓" in out and "DRY RUN" not in out
    assert "closed_at (CLOSED_DT): closed before opened" in out
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["reconciles"] and data["imported"] + data["rejected"] == 2000
    assert data["rejected_by_reason"] == [{"field": "closed_at (CLOSED_DT)", "code": "closed_before_opened",
                                           "reason": "closed before opened", "rows": data["rejected"]}]
    assert app.main(["replay", "--from-db", "--from", "2015-01-01", "--to", "2015-12-31", "--speed", "0",
                     "--limit", "3"]) == 0
    assert "3 records played" in capsys.readouterr().out
    # A broken mapping is refused with every problem named, before anything is read.
    bad = write_mapping(tmp_path, {"name": "x", "timezone": "Nowhere/City"})
    assert app.main(["import", str(BOSTON_SAMPLE), "--mapping", str(bad), "--no-progress"]) == 2
    assert "unknown time zone 'Nowhere/City'" in capsys.readouterr().err


# ------------------------------------------------------ reasons: every one, coded, in both languages
def letters_by_row(factory: sessionmaker[Session]) -> dict[int, DeadLetter]:
    with factory() as s:
        return {int(d.source.split(" row ")[1].split(" ")[0].rstrip(",")): d for d in s.scalars(select(DeadLetter))}


def test_a_row_that_fails_several_checks_is_refused_with_every_reason(tmp_path: Path,
                                                                      jinan_db: sessionmaker[Session]) -> None:
    mapping = {**HOTLINE_MAPPING, "kind": {"column": "诉求类型", "map": {"投诉": "complaint"}},  # no default
               "limits": {"max_text": 100}}
    bad = hotline_row(1, at="18.11.2026", status="7", kind="闲聊", title="标" * 101, content="长" * 150,
                      phone="1" * 40)
    bad[11], bad[12] = "abc", "117.0"  # a point that is not numbers
    path = write_csv(tmp_path / "many.csv", [bad, hotline_row(2)])
    report = run_import(jinan_db, path, Mapping.from_dict(mapping), TZ, now=NOW)
    assert (report.counts["rejected"], report.counts["imported"]) == (1, 1) and report.reconciles
    expected = [("received_at (派单时间)", "bad_date"), ("status (状态)", "unknown_status"),
                ("title (诉求主题)", "oversize"), ("content (诉求内容)", "oversize"),
                ("kind (诉求类型)", "not_mapped"), ("lat/lon (纬度, 经度)", "coordinates_not_numbers"),
                ("phone (来电号码)", "not_a_phone")]
    errors = letters_by_row(jinan_db)[1].errors
    assert [(e["field"], e["code"]) for e in errors] == expected
    # The report counts the row under each of its reasons.
    assert report.reasons == {key: 1 for key in expected}
    oversize = {e["field"]: e["params"] for e in errors if e["code"] == "oversize"}
    assert oversize == {"title (诉求主题)": {"length": 101, "max": 100}, "content (诉求内容)": {"length": 150, "max": 100}}
    assert report.text().count("\n        ") == len(expected)  # one line per reason


@pytest.mark.parametrize("written, value", [
    ("%Y/%m/%d %H:%M:%S", "2026-11-18 09:00:00"),
    ("yyyy-MM-dd HH:mm:ss", "2026/11/18 09:00:00"),
    ("MM/DD/YYYY hh:mm:ss AM", "2026-11-18 09:00:00"),
])
def test_a_bad_date_names_the_format_as_the_mapping_writes_it(tmp_path: Path, jinan_db: sessionmaker[Session],
                                                              written: str, value: str) -> None:
    mapping = Mapping.from_dict({**HOTLINE_MAPPING, "dates": {"formats": [written]}})
    report = run_import(jinan_db, write_csv(tmp_path / "d.csv", [hotline_row(1, at=value)]), mapping, TZ, now=NOW)
    assert report.counts["rejected"] == 1
    (error,) = letters_by_row(jinan_db)[1].errors
    assert error["code"] == "bad_date" and error["params"] == {"value": value, "formats": [written]}
    assert error["message"] == f"bad date: '{value}' matches none of the formats '{written}'"
    if "%" not in written:
        assert "%" not in error["message"]  # not the strptime translation of what was written
    # The same for a live channel whose source configures its own formats (the 12345 push).
    from feeds.common import Draft

    draft = Draft("hotline_12345", TZ)
    assert draft.local_time("派单时间", "18.11.2026 09:00", formats=("%Y/%m/%d %H:%M:%S",)) is None
    assert "'%Y/%m/%d %H:%M:%S'" in draft.errors[0].message and "yyyy-MM-dd" not in draft.errors[0].message


def test_reasons_in_chinese_and_in_english_with_one_code(tmp_path: Path, jinan_db: sessionmaker[Session]) -> None:
    from feeds import import_reasons

    rows = [hotline_row(1, closed="2026-11-17 08:00:00", status="2"), hotline_row(2, status="7")]
    path = write_csv(tmp_path / "zh.csv", rows)
    zh = run_import(jinan_db, path, Mapping.from_dict(HOTLINE_MAPPING), TZ, now=NOW, lang="zh-CN")
    letters = letters_by_row(jinan_db)
    before = letters[1].errors[0]
    assert before["code"] == "closed_before_opened"
    assert before["message"] == "办结早于受理：办结 2026-11-17 08:00:00，受理 2026-11-18 09:00:00"
    assert letters[2].errors[0]["message"] == "未知状态“7”：不在映射的办结状态 '2' 或未办结状态 '0', '1' 之中"
    # The same reason said in English, from the stored code and params.
    assert import_reasons.text(before, "en") == ("closed before opened: closed 2026-11-17 08:00:00, "
                                                 "opened 2026-11-18 09:00:00")
    assert "closed_at (办结时间): 办结早于受理" in zh.text() and "拒收（存入死信）" in zh.text()
    assert "closed_at (办结时间): closed before opened" in zh.text("en")
    # Every code has both languages' words, with the same placeholders.
    for code, reason in import_reasons.REASONS.items():
        from layouts.i18n import gettext

        for msgid in (reason.summary, reason.message):
            assert gettext(msgid, "zh-CN") != msgid and re.search(r"[\u4e00-\u9fff]", gettext(msgid, "zh-CN")), code
            assert sorted(re.findall(r"%\((\w+)\)s", gettext(msgid, "zh-CN"))) == \
                sorted(re.findall(r"%\((\w+)\)s", msgid)), code


# ----------------------------------------------------------------- where: a file of many agencies
DISTRICT_ROWS = [("历下区", "投诉"), ("市中区", "咨询"), ("历城区", "投诉"), ("槐荫区", "求助")]


def district_rows() -> list[list[str]]:
    return [hotline_row(n, district=d, kind=k, phone=f"1370000000{n}", content=f"第{n}件：{d}的事情{'甲乙丙丁'[n - 1] * 6}")
            for n, (d, k) in enumerate(DISTRICT_ROWS, start=1)]


def imported_rows(factory: sessionmaker[Session]) -> set[int]:
    with factory() as s:
        return {int(e[-4:]) for e in s.scalars(select(IntakeRecord.external_id))}


@pytest.mark.parametrize("condition, kept", [
    ({"equals": "历下区"}, {1}),
    ({"in": ["历下区", "市中区"]}, {1, 2}),
    ({"matches": "^历"}, {1, 3}),
    ({"not_equals": "历下区"}, {2, 3, 4}),
    ({"not_in": ["历下区", "市中区"]}, {3, 4}),
    ({"not_matches": "^历"}, {2, 4}),
])
def test_where_keeps_the_rows_its_condition_holds_for(tmp_path: Path, jinan_db: sessionmaker[Session],
                                                      condition: dict[str, Any], kept: set[int]) -> None:
    mapping = Mapping.from_dict({**HOTLINE_MAPPING, "where": [{"column": "区县", **condition}]})
    report = run_import(jinan_db, write_csv(tmp_path / "all.csv", district_rows()), mapping, TZ, now=NOW)
    assert imported_rows(jinan_db) == kept
    assert report.counts["filtered"] == 4 - len(kept) and report.counts["rejected"] == 0
    assert report.reconciles and report.accounted == 4
    assert table_counts(jinan_db)["dead_letters"] == 0  # filtered rows are no one's mistake
    with jinan_db() as s:
        assert s.scalars(select(ImportRun)).one().rows_filtered == 4 - len(kept)


def test_where_needs_every_condition_and_filtered_rows_are_not_checked(tmp_path: Path,
                                                                         jinan_db: sessionmaker[Session]) -> None:
    rows = district_rows()
    rows.append(hotline_row(5, at="not a date", district="历下区", kind="投诉"))  # would be refused, but kept
    rows.append(hotline_row(6, at="not a date", district="槐荫区", kind="投诉"))  # refused? no: filtered first
    rows.append([])  # a blank line: refused as one, never filtered
    mapping = Mapping.from_dict({**HOTLINE_MAPPING, "where": [
        {"column": "区县", "matches": "^历"}, {"column": "诉求类型", "not_in": ["咨询", "求助"]},
        {"column": "状态", "in": [0, 1]},  # YAML numbers compare with the file's text
    ]})
    report = run_import(jinan_db, write_csv(tmp_path / "all.csv", rows), mapping, TZ, now=NOW, batch=2)
    assert imported_rows(jinan_db) == {1, 3}
    assert (report.counts["filtered"], report.counts["rejected"]) == (3, 2) and report.reconciles
    assert set(letters_by_row(jinan_db)) == {5, 7}
    text = report.text()
    assert "filtered out (where:)" in text
    assert [line for line in text.splitlines() if "accounted for" in line][0].endswith("7  = rows in the file ✓")
    assert "已筛除（where:）" in report.text("zh-CN")
    # A dry run decides the same.
    dry = run_import(jinan_db, write_csv(tmp_path / "again.csv", rows), mapping, TZ, now=NOW, dry_run=True)
    assert (dry.counts["filtered"], dry.counts["duplicate"]) == (3, 2)
    assert report.as_dict()["filtered"] == 3


def test_where_on_a_column_the_file_lacks_is_a_mapping_error_before_any_row(tmp_path: Path,
                                                                            jinan_db: sessionmaker[Session]) -> None:
    before = table_counts(jinan_db)
    mapping = Mapping.from_dict({**HOTLINE_MAPPING, "where": [{"column": "承办部门", "equals": "公安局"}]})
    with pytest.raises(MappingError, match=r"where\[0\]\.column: '承办部门' is not a column of the file"):
        run_import(jinan_db, write_csv(tmp_path / "all.csv", district_rows()), mapping, TZ, now=NOW)
    assert table_counts(jinan_db) == before  # not even an import run
    # And the conditions themselves are checked with the rest of the mapping, each named by its key.
    bad = [{"column": "区县", "matches": "(unclosed"}, {"column": "区县", "equals": "a", "in": ["b"]},
           {"column": "区县", "equals": True}, {"column": "区县", "in": []}, {"equals": "x"},
           {"column": "区县", "contains": "x"}, "区县 = 历下区"]
    with pytest.raises(MappingError) as caught:
        Mapping.from_dict({**HOTLINE_MAPPING, "where": bad})
    text = str(caught.value)
    for expected in ("where[0].matches: bad regex", "where[1]: exactly one of", "where[2].equals: [True] is not text",
                     "where[3].in: a list of values", "where[4].column: required", "where[5]: unknown key(s) ['contains']",
                     "where[6]: a condition"):
        assert expected in text, expected


def test_a_filtered_import_resumes_with_its_filtered_rows_counted(tmp_path: Path,
                                                                  boston_db: sessionmaker[Session]) -> None:
    """docs/IMPORT.md's police-relevant cut of Boston 311: noise, disturbances and abandoned vehicles."""
    data = yaml.safe_load(BOSTON_MAPPING.read_text(encoding="utf-8"))
    police = Mapping.from_dict({**data, "where": [{"column": "TYPE",
                                                   "matches": "(?i)noise|disturbance|abandoned vehicle"}]})
    with pytest.raises(SimulatedCrash):
        run_import(boston_db, BOSTON_SAMPLE, police, NY, now=NOW, batch=300, crash_after_batches=3)
    resumed = run_import(boston_db, BOSTON_SAMPLE, police, NY, now=NOW, batch=300)
    assert resumed.resumed_from == 900 and resumed.reconciles
    assert resumed.counts["filtered"] == 2000 - 61  # the sample has 61 such rows (pandas, docs/IMPORT.md)
    assert resumed.counts["imported"] + resumed.counts["rejected"] == 61
    straight = bureau_database(f"sqlite:///{tmp_path / 'straight.db'}", "boston_bureau.yaml", tz=NY)
    once = run_import(straight, BOSTON_SAMPLE, police, NY, now=NOW, batch=300)
    assert {o: once.counts[o] for o in OUTCOMES} == {o: resumed.counts[o] for o in OUTCOMES}
    with boston_db() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == resumed.counts["imported"]
        types = {r.payload["TYPE"] for r in s.scalars(select(IntakeRecord))}
    assert types and all(re.search("(?i)noise|disturbance|abandoned vehicle", t) for t in types)


# --------------------------------------------------- dead letters: the source's id, kept once
def test_dead_letters_name_the_sources_own_id(tmp_path: Path, jinan_db: sessionmaker[Session]) -> None:
    long_id = hotline_row(2, status="7")
    long_id[0] = "GS" + "9" * 70  # too long for an external id: kept in the source text, not cut in the column
    no_id = hotline_row(3, status="7")
    no_id[0] = ""
    path = write_csv(tmp_path / "ids.csv", [hotline_row(1, status="7"), long_id, no_id])
    run_import(jinan_db, path, Mapping.from_dict(HOTLINE_MAPPING), TZ, now=NOW)
    letters = letters_by_row(jinan_db)
    assert letters[1].external_id == "jn12345:GS20261118000001"
    assert letters[1].source == "ids.csv row 1 (工单编号 GS20261118000001; mapping hotline_export)"
    assert letters[2].external_id is None and f"工单编号 {long_id[0][:64]};" in letters[2].source
    assert [e["code"] for e in letters[2].errors] == ["id_too_long", "unknown_status"]
    assert letters[3].external_id is None and letters[3].source == "ids.csv row 3 (mapping hotline_export)"
    assert [e["code"] for e in letters[3].errors] == ["id_missing", "unknown_status"]


def test_a_file_run_again_keeps_each_dead_letter_once(tmp_path: Path, jinan_db: sessionmaker[Session]) -> None:
    no_id = hotline_row(4, status="7")
    no_id[0] = ""
    rows = [hotline_row(1), hotline_row(2, status="7"), hotline_row(3, at="yesterday"), no_id]
    path = write_csv(tmp_path / "export.csv", rows)
    mapping = Mapping.from_dict(HOTLINE_MAPPING)
    first = run_import(jinan_db, path, mapping, TZ, now=NOW)
    assert (first.counts["rejected"], first.counts["rejected_known"]) == (3, 0)
    assert table_counts(jinan_db)["dead_letters"] == 3
    # The same file again, in the other language: the same refusals, already kept.
    dry = run_import(jinan_db, path, mapping, TZ, now=NOW, dry_run=True)
    again = run_import(jinan_db, path, mapping, TZ, now=NOW, lang="zh-CN")
    for report in (dry, again):
        assert (report.counts["rejected"], report.counts["rejected_known"], report.counts["duplicate"]) == (3, 3, 1)
        assert report.reconciles
    assert table_counts(jinan_db)["dead_letters"] == 3
    assert "此前已存，未重复存储" in again.text() and again.as_dict()["rejected_already_kept"] == 3
    assert "\n      already kept, not stored again              3\n" in again.text("en")
    # A later export holding the same bad record, a corrected one and a new bad one: only what is new is kept
    # (the row without an id was identified by its file and row: in another file it is another refusal).
    later = [hotline_row(2, status="7"), hotline_row(3), hotline_row(5, status="9"), no_id, hotline_row(5, status="9")]
    report = run_import(jinan_db, write_csv(tmp_path / "later.csv", later), mapping, TZ, now=NOW)
    assert (report.counts["rejected"], report.counts["rejected_known"], report.counts["imported"]) == (4, 2, 1)
    with jinan_db() as s:
        kept = sorted((d.external_id or "-", d.source.split(" row ")[0]) for d in s.scalars(select(DeadLetter)))
    assert kept == [("-", "export.csv"), ("-", "later.csv"), ("jn12345:GS20261118000002", "export.csv"),
                    ("jn12345:GS20261118000003", "export.csv"), ("jn12345:GS20261118000005", "later.csv")]


def test_the_dead_letter_list_shows_the_id_and_the_reasons_in_a_language(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import app

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("MINSHENG_TIMEZONE", "Asia/Shanghai")
    assert app.main(["db", "upgrade"]) == 0
    assert app.main(["demo", "load", "--file", str(ROOT / "examples" / "jinan_bureau.yaml"), "--no-accounts"]) == 0
    mapping = write_mapping(tmp_path, HOTLINE_MAPPING)
    path = write_csv(tmp_path / "h.csv", [hotline_row(1, closed="2026-11-17 08:00:00", status="2")])
    assert app.main(["import", str(path), "--mapping", str(mapping), "--no-progress"]) == 0
    capsys.readouterr()
    assert app.main(["intake", "dead-letters", "--channel", "import"]) == 0
    listed = capsys.readouterr().out
    assert "jn12345:GS20261118000001" in listed and "closed_at (办结时间): 办结早于受理：办结 2026-11-17 08:00:00" in listed
    assert app.main(["intake", "dead-letters", "--channel", "import", "--lang", "en"]) == 0
    assert "closed_at (办结时间): closed before opened: closed 2026-11-17 08:00:00" in capsys.readouterr().out


# ------------------------------------------------------------------------- long texts
def test_long_texts_are_taken_up_to_the_limit_and_refused_past_it(tmp_path: Path,
                                                                  jinan_db: sessionmaker[Session]) -> None:
    """A real 12345 work order had 6,999 characters: taken whole. Past the limit (limits.max_text,
    20,000 by default) the row is a dead letter that says so, with the length and the limit."""
    text = "小区楼下烧烤店每晚营业到凌晨，油烟和噪音严重扰民，多次反映未解决。"
    rows = [hotline_row(1, content=(text * 500)[:6_999]), hotline_row(2, content=(text * 1000)[:20_000]),
            hotline_row(3, content=(text * 1000)[:20_001], phone="13700000003")]
    report = run_import(jinan_db, write_csv(tmp_path / "long.csv", rows), Mapping.from_dict(HOTLINE_MAPPING), TZ,
                        now=NOW)
    assert (report.counts["imported"], report.counts["rejected"]) == (2, 1)
    with jinan_db() as s:
        assert sorted(len(c) for c in s.scalars(select(Ticket.content))) == [6_999, 20_000]
    (error,) = letters_by_row(jinan_db)[3].errors
    assert (error["code"], error["params"]) == ("oversize", {"length": 20_001, "max": 20_000})
    assert error["message"] == "oversize: 20001 characters, more than the limit of 20000 (limits.max_text)"
    assert json.loads(letters_by_row(jinan_db)[3].payload)["诉求内容"] == (text * 1000)[:20_001]  # kept whole
    # The limit is the mapping's.
    assert Mapping.from_dict({**HOTLINE_MAPPING, "limits": {"max_text": 50_000}}).max_text == 50_000
    for bad in (5, "many", True, 2_000_000):
        with pytest.raises(MappingError, match="limits.max_text: a number of characters from 10 to 1,000,000"):
            Mapping.from_dict({**HOTLINE_MAPPING, "limits": {"max_text": bad}})
