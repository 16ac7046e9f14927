"""督办单 and 提醒函 as printable PDFs through the API: A4, the order's and the ticket's text in
Chinese, the fonts embedded, no citizen's name or phone; outside the caller's scope 404, a
kiosk 403; a server that cannot print in Chinese answers 503 in the one error shape."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import replace
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from pypdf import PdfReader
from pypdf.generic import DictionaryObject
from schemathesis import checks

from dashboard import documents
from tests.helpers import ApiWorld, api_world, new_request
from tickets import services
from tickets.models import utcnow
from tickets.uow import unit_of_work

NAME, PHONE = "张三", "13812345678"  # new_request's citizen
STATION = "泺口派出所"  # JN-TQ-01, api_world's handler's station
A4 = (595.28, 841.89)


@pytest.fixture
def documents_world(tmp_path: Path, pg_url: str) -> Iterator[ApiWorld]:
    for w in api_world(tmp_path, database_url=pg_url):
        w.add_person("other_station", "handler", "JN-LX-01")
        yield w


def ticket_at_station(world: ApiWorld) -> str:
    """A ticket at JN-TQ-01 whose title, text and all give the citizen away unless masked."""
    with unit_of_work(world.platform.factory) as s:
        request = replace(new_request(utcnow(), external_id=f"PDF-{utcnow().timestamp()}"), unit_code="JN-TQ-01",
                          title=f"{NAME}反映楼下烧烤店噪音扰民",
                          content=f"我是{NAME}，电话{PHONE}，泉城路附近烧烤店每晚营业到凌晨，噪音很大。")
        return services.receive_one(s, request, now=utcnow()).number


def read(response: Any) -> tuple[PdfReader, str]:
    """The PDF, and its text without line breaks (a phrase may wrap)."""
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    reader = PdfReader(BytesIO(response.data))
    return reader, "".join(page.extract_text() for page in reader.pages).replace("\n", "")


def font_descriptors(reader: PdfReader) -> list[tuple[str, DictionaryObject]]:
    """(base font name, descriptor) of every font the pages use, composite fonts' descendants included."""
    found = []
    for page in reader.pages:
        fonts = page["/Resources"].get_object().get("/Font")
        for ref in (fonts.get_object().values() if fonts is not None else []):
            font = ref.get_object()
            for leaf in [f.get_object() for f in font.get("/DescendantFonts", [])] or [font]:
                found.append((str(leaf.get("/BaseFont")), leaf["/FontDescriptor"].get_object()))
    return found


def assert_printable(reader: PdfReader, text: str, *must: str) -> None:
    for page in reader.pages:
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        assert abs(width - A4[0]) <= 1 and abs(height - A4[1]) <= 1, (width, height)
    for words in ("济南市公安局", STATION, *must):
        assert words in text, (words, text)
    # The citizen: masked (张* 138****5678) wherever mentioned, in the title, the request's text, the note.
    assert NAME not in text and PHONE not in text and PHONE[3:] not in text, text
    assert "张*" in text and "138****5678" in text
    fonts = font_descriptors(reader)
    assert fonts and any("CJK" in name for name, _d in fonts), fonts
    unembedded = [name for name, d in fonts if not any(k in d for k in ("/FontFile", "/FontFile2", "/FontFile3"))]
    assert not unembedded, f"fonts not embedded: {unembedded}"


def test_an_order_prints_as_an_a4_pdf_in_chinese_without_the_citizen(documents_world: ApiWorld) -> None:
    world = documents_world
    number = ticket_at_station(world)
    issued = world.post(f"/api/v1/tickets/{number}/supervision", "duty", json={"note": f"请尽快联系{NAME}（{PHONE}）并回复"})
    assert issued.status_code == 201, issued.get_json()
    order = issued.get_json()["number"]

    response = world.get(f"/api/v1/supervision/orders/{order}.pdf", "handler")
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("inline;") and f'filename="{order}.pdf"' in disposition, disposition
    reader, text = read(response)
    assert_printable(reader, text, order, number, "督办", "值班督办", "办理情况反馈")
    assert "待反馈" in text
    # The answer is the one the OpenAPI document describes (the fuzzing test never guesses a real number).
    operation = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", world.platform.server)[
        "/supervision/orders/{number}.pdf"]["GET"]
    operation.Case(path_parameters={"number": order}).call_and_validate(
        headers=world.headers("handler"), checks=[checks.not_a_server_error, checks.status_code_conformance,
                                                  checks.content_type_conformance])

    # The unit's answer, and the order's closing, print on it too.
    answer = world.post(f"/api/v1/supervision/orders/{order}/answer", "handler",
                        json={"answer": f"已与{NAME}电话沟通，店主承诺22点后停止营业"})
    assert answer.status_code == 200, answer.get_json()
    assert world.post(f"/api/v1/supervision/orders/{order}/close", "duty", json={}).status_code == 200
    reader, text = read(world.get(f"/api/v1/supervision/orders/{order}.pdf", "duty"))
    assert_printable(reader, text, order, "店主承诺22点后停止营业", "已办结")


def test_a_letter_prints_as_an_a4_pdf_in_chinese_without_the_citizen(documents_world: ApiWorld) -> None:
    world = documents_world
    number = ticket_at_station(world)
    with unit_of_work(world.platform.factory) as s:
        letter = services.issue_reminder_letter(s, services.SYSTEM, f"{NAME}（{PHONE}）多次反映，请高度重视。",
                                                number=number).number
    response = world.get(f"/api/v1/supervision/letters/{letter}.pdf", "viewer")
    assert response.status_code == 404  # the viewer is of JN-LX: not their unit's letter
    response = world.get(f"/api/v1/supervision/letters/{letter}.pdf", "handler")
    assert response.headers["Content-Disposition"].startswith("inline;")
    reader, text = read(response)
    assert_printable(reader, text, letter, number, "提醒函", "领导批示", "请高度重视")


@pytest.mark.parametrize("kind", ["orders", "letters"])
def test_a_document_outside_the_callers_scope_is_not_found_and_a_kiosk_may_not_print(
        documents_world: ApiWorld, kind: str) -> None:
    world = documents_world
    number = ticket_at_station(world)
    with unit_of_work(world.platform.factory) as s:
        if kind == "orders":
            document = services.issue_supervision_order(s, services.SYSTEM, number).number
        else:
            document = services.issue_reminder_letter(s, services.SYSTEM, "请高度重视。", number=number).number
    url = f"/api/v1/supervision/{kind}/{document}.pdf"
    other = world.get(url, "other_station")
    code = "unknown_order" if kind == "orders" else "unknown_letter"
    assert other.status_code == 404 and other.get_json()["error"]["code"] == code, other.get_json()
    assert other.mimetype == "application/json" and b"%PDF" not in other.data
    kiosk = world.get(url, "kiosk")
    assert kiosk.status_code == 403 and kiosk.get_json()["error"]["code"] == "role_required", kiosk.get_json()
    assert world.get(url, None).status_code == 401
    missing = world.get(f"/api/v1/supervision/{kind}/{document[:2]}00000000000000.pdf", "admin")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == code
    assert world.get(url, "admin").status_code == 200  # the platform office sees every unit's


def test_a_server_that_cannot_print_in_chinese_answers_503(documents_world: ApiWorld,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    world = documents_world
    number = ticket_at_station(world)
    with unit_of_work(world.platform.factory) as s:
        order = services.issue_supervision_order(s, services.SYSTEM, number).number
    url = f"/api/v1/supervision/orders/{order}.pdf"
    # Fonts this machine does not have: fontconfig falls back to some other font, which is refused.
    monkeypatch.setattr(documents, "SERIF", "Minsheng Missing Serif")
    monkeypatch.setattr(documents, "SANS", "Minsheng Missing Sans")
    monkeypatch.setattr(documents, "FONTS", ("Minsheng Missing Serif", "Minsheng Missing Sans"))
    refused = world.get(url, "admin")
    assert refused.status_code == 503, refused.status_code
    error = refused.get_json()["error"]
    assert error["code"] == "document_font_missing" and "Minsheng Missing Serif" in error["message"], error
    assert "中文字体" in error["message"]  # zh-CN by default
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import weasyprint → ImportError, as without it
    refused = world.get(url, "admin", **{"Accept-Language": "en"})
    assert refused.status_code == 503 and refused.get_json()["error"]["code"] == "document_renderer_missing"
    assert "WeasyPrint" in refused.get_json()["error"]["message"]
