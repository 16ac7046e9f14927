"""The printable documents' ground rules, without a database: nothing fetched from the network
whatever the HTML asks for, and free text that leaves the platform with its phone numbers and
the citizen's name masked (and ID-card numbers: the detector every public or shared output uses)."""
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
    # mobiles and landlines as people write them
    ("手机：139 0531 0101，请回电", "手机：139****0101，请回电"),
    ("+8613905310101、0086-139-0531-0101", "139****0101、139****0101"),
    ("电话0531 8888 6666或(0531)88886666", "电话053****6666或053****6666"),
    ("济南0531-86012345转分机", "济南053****2345转分机"),
    ("+86 531 8601 2345", "531****2345"),
    # resident ID cards: 18 characters with a valid check digit (X too), and the old 15 digits
    ("身份证号370102199001011231，户籍历下", "身份证号370102********1231，户籍历下"),
    ("证件号：11010519491231002X。", "证件号：110105********002X。"),
    ("证件号：11010519491231002x", "证件号：110105********002x"),
    ("老证号370102900101123", "老证号370102*****1123"),
    # what must stay: numbers of the platform and the hotline, dates, times, amounts, counts
    ("工单GS20240612000001，派单时间2024-06-12 09:30:00，时限20240614", None),
    ("罚款12000元，赔偿¥13,800.00，共138人，面积1380000平方米", None),
    ("订单号2024061200000118，流水号202406120930001，时间戳20240612093000", None),
    ("18位数字但校验位不对：370102199001011234；17位：37010219900101123", None),
    ("车牌鲁A12345，邮编250001，12345热线，110报警，3号楼2单元501室", None),
])
def test_free_text_is_redacted(text: str, shown: str | None) -> None:
    ticket: Any = SimpleNamespace(citizen_name="张三")
    assert redacted(text, ticket) == (text if shown is None else shown)


def test_a_one_character_name_is_not_masked_everywhere() -> None:
    ticket: Any = SimpleNamespace(citizen_name="张")
    assert redacted("张家庄，电话13812345678", ticket) == "张家庄，电话138****5678"
    assert redacted(None) == ""
