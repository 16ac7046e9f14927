"""每周通报 printed: the PDF and the spreadsheet of the simulated month's third week, through the API.

The PDF (A4, Chinese, fonts embedded) carries the week and the page on every page,
every number of the bureau's table as the JSON has it, the header row of a table on
every page the table continues, a list of tickets longer than ``PRINTED_ROWS`` cut there
with its total and where the rest is; the spreadsheet has valid sheet names, the bureau's
figures as numbers (rates in a percent format), CJK-wide columns, every row of every list.
A branch head's copies name no other branch's stations; neither names a citizen.
"""
from __future__ import annotations

import re
import socket
import subprocess
import time
from datetime import timedelta
from io import BytesIO
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select, text

from dashboard import documents
from dashboard.documents import bulletin as bulletin_pdf
from dashboard.documents.bulletin_xlsx import MAX_SHEET, display_width
from tests.helpers import MADE_AT, PHONE, WEEK, ApiWorld
from tests.integration.test_supervision_pdf import A4, font_descriptors
from tickets import bulletin, services
from tickets.models import Unit, utcnow
from tickets.roles import SYSTEM
from tickets.uow import unit_of_work

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def made(world: ApiWorld) -> None:
    with unit_of_work(world.platform.factory) as s:
        services.make_bulletin(s, SYSTEM, WEEK, now=MADE_AT)


def pages(data: bytes) -> tuple[PdfReader, list[str]]:
    assert data.startswith(b"%PDF-")
    reader = PdfReader(BytesIO(data))
    return reader, [p.extract_text().replace("\n", "") for p in reader.pages]


def other_stations(world: ApiWorld, branch: str) -> list[str]:
    with world.platform.factory() as s:
        mine = s.scalar(select(Unit.id).where(Unit.code == branch))
        return list(s.scalars(select(Unit.name).where(Unit.kind == "station", Unit.parent_id != mine)))


@pytest.mark.real_servers
def test_the_pdf_of_a_week(bulletin_world: ApiWorld, tmp_path: Any) -> None:
    world = bulletin_world
    made(world)
    content = world.get(f"/api/v1/bulletins/{WEEK}", "chief").get_json()
    started = time.perf_counter()
    response = world.get(f"/api/v1/bulletins/{WEEK}.pdf", "chief")
    seconds = time.perf_counter() - started
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("inline; filename=\"") and f"{WEEK}-v1.pdf" in disposition
    assert "filename*=UTF-8''%E6%AF%8F%E5%91%A8%E9%80%9A%E6%8A%A5" in disposition  # 每周通报
    (tmp_path / "bulletin.pdf").write_bytes(response.data)
    print(f"bulletin PDF: {len(response.data)} bytes, {seconds:.2f} s")
    reader, texts = pages(response.data)
    everything = "".join(texts)
    assert len(texts) > 1
    for page in reader.pages:
        assert abs(float(page.mediabox.width) - A4[0]) <= 1 and abs(float(page.mediabox.height) - A4[1]) <= 1
    for number, words in enumerate(texts, start=1):  # the week and the page on every page
        assert f"{WEEK} · 第{number}页" in words, (number, words[:200])
        assert "临时" not in words
    for words in ("济南市公安局", "民生警务工作周报", "历下分局", "一、全局主要指标", "二、单位排名", "三、异常情况",
                  "四、诉求类别与来源渠道", "五、热点区域", "红榜", "黑榜", "签收及时率", "退单率", "重办率"):
        assert words in everything, words
    for value in bulletin_pdf.bureau_text(content):  # every number of the bureau's table, as the JSON has it
        assert value in everything, value
    assert bulletin_pdf.text(content["bureau"]["received"], "int") in everything
    for row in content["rankings"]["branches"]["units"]:
        assert row["unit_name"] in everything
        if row["rank"] is not None:
            assert bulletin_pdf.text(row["composite_interval"], "interval") in everything
    w = bulletin_pdf.words()

    def overdue(rows: int | None) -> list[str]:  # the overdue table's rows as the PDF's text has them
        table = next(t for section in bulletin_pdf.sections(content, w, images=False, rows=rows)
                     for t in section.tables if t.key == "overdue")
        return [" ".join(cells) for cells in table.cells(w["pp"])]

    # a list longer than PRINTED_ROWS is cut there, saying so; the spreadsheet has it all (below)
    every, total = overdue(None), len(content["exceptions"]["overdue"])
    printed = overdue(bulletin_pdf.PRINTED_ROWS)
    assert printed == every[:len(printed)] and total == len(every) > len(printed) == bulletin_pdf.PRINTED_ROWS
    assert sum(sum(row in words for row in printed) for words in texts) == len(printed)  # each row once, whole
    assert not [row for row in every[len(printed):] if row in everything]
    assert w["cut"] % {"total": total, "shown": len(printed)} in everything
    # printed uncut, the overdue table runs over pages: its header row is on every page it is on
    _, texts_uncut = pages(bulletin_pdf.pdf(content, "济南市公安局", rows=None))
    assert total > 40
    on = [i for i, words in enumerate(texts_uncut) if any(row in words for row in every)]
    assert sum(sum(row in words for row in every) for words in texts_uncut) == total  # each row once, whole
    assert len(on) > 1, on
    for i in on:
        assert "超期环节" in texts_uncut[i] and "超时（小时）" in texts_uncut[i], i
    fonts = font_descriptors(reader)
    assert any("CJK" in name and "SC" in name for name, _ in fonts), fonts
    assert not any("JP" in name for name, _ in fonts), fonts
    assert all(any(k in d for k in ("/FontFile2", "/FontFile3")) for _, d in fonts), fonts
    assert PHONE not in everything and not re.search(r"137\d{8}", everything)  # no citizen's phone


@pytest.mark.real_servers
def test_the_spreadsheet_of_a_week(bulletin_world: ApiWorld) -> None:
    world = bulletin_world
    made(world)
    content = world.get(f"/api/v1/bulletins/{WEEK}", "chief").get_json()
    started = time.perf_counter()
    response = world.get(f"/api/v1/bulletins/{WEEK}.xlsx", "chief")
    seconds = time.perf_counter() - started
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == XLSX
    assert response.headers["Content-Disposition"].startswith(f"attachment; filename=\"{WEEK}-v1.xlsx\"")
    print(f"bulletin XLSX: {len(response.data)} bytes, {seconds:.2f} s")
    book = load_workbook(BytesIO(response.data))
    names = book.sheetnames
    assert len(names) == len(set(names)) > 10
    assert all(len(n) <= MAX_SHEET and not set(n) & set("[]:*?/\\") for n in names), names
    assert {"主要指标", "分局、县局排名", "派出所排名", "超期未办结", "热点网格"} <= set(names), names
    main = book["主要指标"]
    assert main.freeze_panes == "A2"
    w = bulletin_pdf.words()
    rows = {r[0].value: r for r in main.iter_rows(min_row=2) if r[0].value}
    bureau = content["bureau"]
    for key, kind in bulletin_pdf.BUREAU_ROWS:
        cell = rows[w[key]][1]
        if bureau[key] is None:
            assert cell.value is None
            continue
        assert isinstance(cell.value, (int, float)) and cell.value == pytest.approx(bureau[key], abs=1e-12), key
        assert cell.number_format == ("0.0%" if kind == "rate" else "0.0" if kind == "hours" else "0"), key
        if key in bulletin.RATES and bureau["intervals"][key] is not None:
            low, high = rows[w[key]][2].value, rows[w[key]][3].value
            assert [low, high] == pytest.approx(bureau["intervals"][key])
    branches = book["分局、县局排名"]
    header = [c.value for c in branches[1]]
    unit_column = header.index("单位")
    names_in = [r[unit_column].value for r in branches.iter_rows(min_row=2) if r[unit_column].value]
    assert names_in == [r["unit_name"] for r in content["rankings"]["branches"]["units"]]
    letter = branches.cell(row=1, column=unit_column + 1).column_letter
    assert branches.column_dimensions[letter].width >= 2 * max(len(n) for n in names_in)
    assert branches.column_dimensions[letter].width >= max(display_width(n) for n in names_in)
    rate_column = header.index("响应率")
    assert all(r[rate_column].number_format == "0.0%" for r in branches.iter_rows(min_row=2)
               if r[rate_column].value is not None)
    # every exception, where the PDF prints the first PRINTED_ROWS of a list
    overdue = [r[0].value for r in book["超期未办结"].iter_rows(min_row=2) if r[0].value]
    assert overdue == [r["number"] for r in content["exceptions"]["overdue"]]
    assert len(overdue) > bulletin_pdf.PRINTED_ROWS


@pytest.mark.real_servers
def test_a_branch_heads_copies_name_no_other_branchs_station(bulletin_world: ApiWorld) -> None:
    world = bulletin_world
    made(world)
    others = other_stations(world, "JN-LX")
    with world.platform.factory() as s:
        mine = set(s.scalars(text("SELECT name FROM units WHERE parent_id = (SELECT id FROM units WHERE code = 'JN-LX')")))
    response = world.get(f"/api/v1/bulletins/{WEEK}.pdf", "lx_head")
    assert response.status_code == 200, response.get_json()
    assert "JN-LX" in response.headers["Content-Disposition"]
    _, texts = pages(response.data)
    everything = "".join(texts)
    assert "历下分局" in everything and any(name in everything for name in mine)
    assert not [name for name in others if name in everything]
    assert "一、全局主要指标" not in everything and "市中分局" not in everything
    response = world.get(f"/api/v1/bulletins/{WEEK}.xlsx", "lx_head")
    assert response.status_code == 200
    book = load_workbook(BytesIO(response.data))
    cells = {str(c.value) for sheet in book for row in sheet.iter_rows() for c in row if c.value is not None}
    assert not [name for name in others if any(name in v for v in cells)]
    assert "主要指标" not in book.sheetnames


@pytest.mark.real_servers
def test_the_running_week_prints_provisional_and_errors_are_answers(bulletin_world: ApiWorld,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    world = bulletin_world
    running = bulletin.week_of(utcnow().astimezone(MADE_AT.tzinfo).date())
    response = world.get(f"/api/v1/bulletins/{running}.pdf", "chief")
    assert response.status_code == 200, response.get_json()
    assert "provisional" in response.headers["Content-Disposition"]
    _, texts = pages(response.data)
    assert all("临时" in words and "provisional" in words for words in texts)
    assert world.get(f"/api/v1/bulletins/{running}.xlsx", "chief").status_code == 200
    assert world.get(f"/api/v1/bulletins/{WEEK}.pdf", "chief").status_code == 404  # not made yet
    assert world.get(f"/api/v1/bulletins/{WEEK}.xlsx", "chief").status_code == 404
    assert world.get("/api/v1/bulletins/2026-W99.pdf", "chief").status_code == 400
    assert world.get(f"/api/v1/bulletins/{running}.pdf?version=x", "chief").status_code == 400
    assert world.get(f"/api/v1/bulletins/{running}.pdf", "kiosk").status_code == 403
    # no Chinese font: 503 in the one error shape, never a PDF of boxes (nor a 500)
    monkeypatch.setattr(documents, "SERIF", "Minsheng Missing Serif")
    monkeypatch.setattr(documents, "SANS", "Minsheng Missing Sans")
    monkeypatch.setattr(documents, "FONTS", ("Minsheng Missing Serif", "Minsheng Missing Sans"))
    response = world.get(f"/api/v1/bulletins/{running}.pdf", "chief")
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.get_json()["error"]["code"] == "document_font_missing"


# 13 more stations under 历城分局: with the bureau's 87 ranked units, a week of 100 (the names are the
# district's towns; the stations are the test's own)
MORE_STATIONS = ("港沟", "唐冶", "彩石", "董家", "遥墙", "临港", "仲宫", "柳埠", "西营", "高而", "孙村", "郭店", "华山")


def big_week(world: ApiWorld, overdue: int) -> None:
    """The month's bureau grown to 100 units, and tickets of the week left untouched (past every
    deadline by Monday) until ``overdue`` of the week's are overdue, some re-dispatched to the new stations."""
    from tests.helpers import new_request
    from tickets import lifecycle

    with unit_of_work(world.platform.factory) as s:
        branch = s.scalar(select(Unit).where(Unit.code == "JN-LC"))
        added = [Unit(code=f"JN-LC-X{i:02d}", name=f"{town}新区派出所", level=3, kind="station", parent_id=branch.id,
                      district="历城区") for i, town in enumerate(MORE_STATIONS, start=1)]
        s.add_all(added)
        s.flush()
        _, _, start, _ = bulletin.week_bounds(WEEK, MADE_AT.tzinfo)
        for n in range(overdue):
            at = start + timedelta(hours=1 + n * 160 / overdue)
            ticket = services.receive_one(s, new_request(
                at, topic="noise", phone=f"1361111{n:04d}", district="历城区", lat=36.686 + n * 1e-4, lon=117.065,
                external_id=f"BIG-{n}"), now=at)
            if n % 3 == 0 and ticket.status == "dispatched":  # 退单 to a new station
                lifecycle.return_ticket(s, ticket, at + timedelta(minutes=10), SYSTEM, "非本单位管辖")
                lifecycle.dispatch(s, ticket, added[n % len(added)], at + timedelta(minutes=20))


@pytest.mark.real_servers
def test_a_week_of_100_units_and_300_overdue_paginates_and_prints_chinese_offline(
        bulletin_world: ApiWorld, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    world = bulletin_world
    big_week(world, 260)
    made(world)
    content = world.get(f"/api/v1/bulletins/{WEEK}", "chief").get_json()
    ranked_units = [r for g in (content["rankings"]["branches"], content["rankings"]["divisions"],
                                *content["rankings"]["stations"].values()) for r in g["units"]]
    overdue = content["exceptions"]["overdue"]
    assert len(ranked_units) >= 100 and len(overdue) >= 300, (len(ranked_units), len(overdue))

    # Made with the network refused: any connection from the renderer fails the test.
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"the PDF reached for the network: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    started = time.perf_counter()
    data = bulletin_pdf.pdf(content, "济南市公安局")
    seconds = time.perf_counter() - started
    monkeypatch.undo()
    assert b"http://" not in data and b"https://" not in data  # nothing to fetch when opened
    path = tmp_path / "big.pdf"
    path.write_bytes(data)

    # pdftotext (poppler), page by page: the Chinese names come out as Chinese.
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True,
                         text=True).stdout
    texts = [page.replace(" ", "").replace("\n", "") for page in out.split("\f") if page.strip()]
    everything = "".join(texts)
    assert len(texts) > 10, len(texts)
    missing = [r["unit_name"] for r in ranked_units if r["unit_name"] not in everything]
    assert not missing, missing
    assert all(f"{town}新区派出所" in everything for town in MORE_STATIONS)
    # The overdue table prints its first PRINTED_ROWS rows over several pages, its header on every
    # page it is on (the numbers of its rows that no other table lists tell where it is), and says
    # how many there are in all; the spreadsheet has every one.
    shown = [r["number"] for r in overdue[:bulletin_pdf.PRINTED_ROWS]]
    assert not [n for n in shown if n not in everything]
    w = bulletin_pdf.words()
    assert (w["cut"] % {"total": len(overdue), "shown": len(shown)}).replace(" ", "") in everything
    ex = content["exceptions"]
    elsewhere = {r["number"] for name in ("closed_late", "unsatisfied") for r in ex[name]} | {
        r["ticket_number"] for name in ("supervision_orders", "reminder_letters") for r in ex[name]} | {
        r["number"] for r in ex["last_week"]["items"]}
    own = [n for n in shown if n not in elsewhere]
    pages_with = [i for i, words in enumerate(texts) if any(number in words for number in own)]
    assert len(pages_with) >= 3, pages_with
    book = load_workbook(BytesIO(world.get(f"/api/v1/bulletins/{WEEK}.xlsx", "chief").data))
    assert [r[0].value for r in book["超期未办结"].iter_rows(min_row=2) if r[0].value] == [r["number"] for r in overdue]
    for i in pages_with:
        assert "超期环节" in texts[i] and "超时（小时）" in texts[i], i
        assert f"{WEEK}·第{i + 1}页" in texts[i], i
    print(f"\n{len(ranked_units)} units, {len(overdue)} overdue: {len(texts)} pages, {len(data)} bytes, "
          f"{seconds:.1f} s; the overdue table on pages {pages_with[0] + 1}–{pages_with[-1] + 1}")
