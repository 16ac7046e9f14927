"""The printable documents' ground rules, without a database: nothing fetched from the network
whatever the HTML asks for, and free text that leaves the platform with its phone numbers and
the citizen's name masked."""
from __future__ import annotations

import socket
from types import SimpleNamespace
from typing import Any

import pytest

from dashboard import documents
from tickets.personal import redacted


def test_a_document_fetches_nothing_over_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    tried: list[Any] = []

    def connect(self: socket.socket, address: Any) -> None:
        tried.append(address)
        raise OSError("no network in a document")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: connect(None, address))
    html = documents.html("base.html", title="督办单", kind="督办单", number="DB20261202000001",
                          bureau_name="济南市公安局", signer="值班员", unit_name="泺口派出所", issued_day="2026年12月2日",
                          copy_to="")
    html = html.replace("</body>", '<img src="http://192.0.2.1/logo.png"><link rel="stylesheet" '
                                   'href="https://192.0.2.1/x.css"><p style="background: url(http://192.0.2.1/b.png)">督办</p></body>')
    pdf = documents.write_pdf(html)
    assert pdf.startswith(b"%PDF-") and tried == []


@pytest.mark.parametrize(("text", "shown"), [
    ("我是张三，电话13812345678", "我是张*，电话138****5678"),
    ("请联系 138-1234-5678 或 +86 138 1234 5678", "请联系 138****5678 或 138****5678"),
    ("座机0531-88886666", "座机053****6666"),
    ("工单MS20261202000042、督办单DB20261202000001：12345热线", "工单MS20261202000042、督办单DB20261202000001：12345热线"),
    ("张三丰路与张三路口", "张*丰路与张*路口"),  # the name wherever it stands: a document errs on the safe side
])
def test_free_text_is_redacted(text: str, shown: str) -> None:
    ticket: Any = SimpleNamespace(citizen_name="张三")
    assert redacted(text, ticket) == shown


def test_a_one_character_name_is_not_masked_everywhere() -> None:
    ticket: Any = SimpleNamespace(citizen_name="张")
    assert redacted("张家庄，电话13812345678", ticket) == "张家庄，电话138****5678"
    assert redacted(None) == ""
