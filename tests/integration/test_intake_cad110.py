"""110 dispatch export import: `python app.py intake cad110 FILE.csv`."""
from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import app
from feeds import cad110
from geo import coords
from tests.helpers import ROOT, TZ, count, dead_letters, records, tickets

SAMPLE = ROOT / "examples" / "cad110_sample.csv"


def write(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8-sig",
          header: tuple[str, ...] = cad110.COLUMNS) -> Path:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(header), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(out.getvalue().encode(encoding))
    return path


def row(**changes: str) -> dict[str, str]:
    base = {"接警单号": "370102202611230101", "报警时间": "2026-11-23 08:15:30", "报警人": "陈先生",
            "联系电话": "13953100101", "案发地址": "济南市历下区文化东路", "经度": "117.0500", "纬度": "36.6640",
            "警情类别": "刑事", "警情细类": "盗窃", "简要警情": "报警人称停在楼下的自行车被盗。"}
    base.update(changes)
    return base


def test_the_sample_export_imports_and_a_rerun_adds_nothing(small_bureau_platform: Any) -> None:
    report = cad110.import_file(small_bureau_platform.test_factory, SAMPLE, tz=TZ)
    assert report.rows == 6 and report.counts["accepted"] == 6 and not report.refused
    by_id = {r.external_id: r for r in records(small_bureau_platform)}
    assert set(by_id) == {f"37010{d}20261123000{i}" for d, i in
                          (("2", 1), ("2", 2), ("3", 3), ("4", 4), ("2", 5), ("5", 6))}
    ts = {t.number: t for t in tickets(small_bureau_platform)}
    theft = next(t for t in ts.values() if t.topic == "theft")
    assert theft.received_at == datetime(2026, 11, 22, 23, 45, 10, tzinfo=UTC)  # 07:45:10 Beijing
    assert (theft.channel, theft.kind, theft.sla_class, theft.district) == ("cad_110", "report", "enforcement", "历下区")
    assert {t.topic for t in ts.values()} == {"noise", "theft", "traffic", "dispute", "fraud", "other"}
    no_point = next(t for t in ts.values() if t.lat is None)
    assert no_point.district == "天桥区"  # from the address text
    again = cad110.import_file(small_bureau_platform.test_factory, SAMPLE, tz=TZ)
    assert again.counts["duplicate"] == 6 and again.counts["accepted"] == 0
    assert len(tickets(small_bureau_platform)) == 6


@pytest.mark.parametrize("changes, column, words", [
    ({"接警单号": ""}, "接警单号", "required"),
    ({"报警时间": "23/11/2026 08:15"}, "报警时间", "not a date-time"),
    ({"报警时间": "2026-11-23"}, "报警时间", "not a date-time"),
    ({"经度": "east"}, "经度", "must be a number"),
    ({"纬度": "95"}, "纬度", "out of range"),
    ({"经度": "-71.06", "纬度": "42.36"}, "纬度", "outside the area served"),
    ({"经度": ""}, "经度", "come together"),
    ({"警情类别": "杂项"}, "警情类别", "is not one of"),
    ({"简要警情": "警" * 20_001}, "简要警情", "at most 20000"),
    ({"联系电话": "无"}, "联系电话", "not a phone number"),
])
def test_bad_rows_are_dead_letters_with_the_column_named(small_bureau_platform: Any, tmp_path: Path,
                                                        changes: dict[str, str], column: str, words: str) -> None:
    bad = row(**{"接警单号": "370102202611230102", **changes})
    path = write(tmp_path / "export.csv", [row(), bad])
    report = cad110.import_file(small_bureau_platform.test_factory, path, tz=TZ)
    assert report.counts["accepted"] == 1 and report.counts["rejected"] == 1
    [(line, errors)] = report.refused
    assert line == 3 and any(e.field == column and words in e.message for e in errors), errors
    [letter] = dead_letters(small_bureau_platform, "cad_110")
    assert letter.source == "export.csv:3"
    assert json.loads(letter.payload) == bad
    # Running the file again neither doubles the ticket nor the dead letter.
    cad110.import_file(small_bureau_platform.test_factory, path, tz=TZ)
    assert len(tickets(small_bureau_platform)) == 1 and len(dead_letters(small_bureau_platform, "cad_110")) == 1


def test_a_fixed_row_is_taken_on_the_next_run(small_bureau_platform: Any, tmp_path: Path) -> None:
    path = write(tmp_path / "export.csv", [row(报警时间="soon")])
    assert cad110.import_file(small_bureau_platform.test_factory, path, tz=TZ).counts["rejected"] == 1
    write(path, [row()])
    assert cad110.import_file(small_bureau_platform.test_factory, path, tz=TZ).counts["accepted"] == 1
    assert len(tickets(small_bureau_platform)) == 1


def test_gb18030_files_and_gcj02_coordinates(small_bureau_platform: Any, tmp_path: Path) -> None:
    wgs = (36.6640, 117.0500)
    lat, lon = coords.wgs84_to_gcj02(*wgs)
    path = write(tmp_path / "gbk.csv", [row(经度=f"{lon:.7f}", 纬度=f"{lat:.7f}", 报警人="䶮先生")],
                 encoding="gb18030")
    report = cad110.import_file(small_bureau_platform.test_factory, path, tz=TZ, crs="gcj02")
    assert report.counts["accepted"] == 1
    [t] = tickets(small_bureau_platform)
    assert t.citizen_name == "䶮先生"
    assert abs(t.lat - wgs[0]) < 1e-6 and abs(t.lon - wgs[1]) < 1e-6


def test_a_file_without_the_required_columns_is_refused(small_bureau_platform: Any, tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", [row()], header=("接警单号", "报警时间"))
    with pytest.raises(ValueError, match="警情类别"):
        cad110.import_file(small_bureau_platform.test_factory, path, tz=TZ)


def test_dry_run_stores_nothing(small_bureau_platform: Any) -> None:
    report = cad110.import_file(small_bureau_platform.test_factory, SAMPLE, tz=TZ, dry_run=True)
    assert report.counts["accepted"] == 6 and tickets(small_bureau_platform) == []


def test_the_command_line(small_bureau_platform: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", small_bureau_platform.settings.database_url)
    path = write(tmp_path / "export.csv", [row(), row(接警单号="370102202611230102", 警情类别="杂项")])
    assert app.main(["intake", "cad110", str(path)]) == 0
    out = capsys.readouterr().out
    assert "2 rows: 1 new tickets" in out and "1 refused" in out and "line 3: 警情类别" in out
    assert app.main(["intake", "dead-letters", "--channel", "cad_110"]) == 0
    assert "export.csv:3" in capsys.readouterr().out


@pytest.mark.parametrize("mode, suggested", [("auto", 1), ("off", 0)])
def test_the_command_line_honours_the_dedup_mode(small_bureau_platform: Any, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch, mode: str, suggested: int) -> None:
    """The same theft called in twice ten minutes apart (one caller, one place, the same words): the
    dispatcher is offered the pair to merge (one channel's two records are only ever suggested), unless
    MINSHENG_DEDUP_MODE=off, which leaves every record alone."""
    from tickets.models import DuplicateSuggestion

    monkeypatch.setenv("DATABASE_URL", small_bureau_platform.settings.database_url)
    monkeypatch.setenv("MINSHENG_DEDUP_MODE", mode)
    path = write(tmp_path / "export.csv", [row(), row(接警单号="370102202611230102", 报警时间="2026-11-23 08:25:30")])
    assert app.main(["intake", "cad110", str(path)]) == 0
    assert len(records(small_bureau_platform, "cad_110")) == 2 and len(tickets(small_bureau_platform)) == 2
    assert count(small_bureau_platform, DuplicateSuggestion) == suggested
