"""局长信箱: the web form at /mailbox and .eml import (`python app.py intake eml`)."""
from __future__ import annotations

import base64
import quopri
import re
from datetime import UTC, datetime
from email.header import Header
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

import app
from feeds import mailbox
from tests.helpers import TZ, count, dead_letters, form_fields, records, tickets, with_changes
from tickets.uow import unit_of_work
from tickets.models import DeadLetter, Ticket, utcnow

pytestmark = pytest.mark.platform_settings(mailbox_max_per_hour=5)  # the rate-limit test reaches the limit


def open_form(client: Any) -> dict[str, str]:
    return form_fields(client, "/mailbox")


def letter(hidden: dict[str, str], **changes: str) -> dict[str, str]:
    base = {**hidden, "name": "王女士", "phone": "13705311234", "email": "wang@example.cn", "kind": "suggestion",
            "title": "建议在学校门口增设护学岗", "content": "历下区文化东路小学门口上下学时段车辆拥堵，建议增派警力维护秩序。",
            "address": "济南市历下区文化东路"}
    return with_changes(base, changes)


# ------------------------------------------------------------------ the form
def test_the_form_is_chinese_and_self_contained(small_bureau_platform: Any) -> None:
    html = small_bureau_platform.server.test_client().get("/mailbox").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and "局长信箱" in html and "提交" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing from outside the platform


def test_a_letter_becomes_a_ticket(small_bureau_platform: Any) -> None:
    client = small_bureau_platform.server.test_client()
    response = client.post("/mailbox", data=letter(open_form(client)), headers={"Origin": "http://localhost"})
    assert response.status_code == 201, response.get_data(as_text=True)
    [ticket] = tickets(small_bureau_platform)
    assert ticket.number in response.get_data(as_text=True)
    assert (ticket.channel, ticket.kind, ticket.district) == ("director_mailbox", "suggestion", "历下区")
    assert ticket.citizen_name == "王女士" and ticket.topic == "traffic"
    [record] = records(small_bureau_platform)
    assert record.external_id.startswith("MB-") and "csrf_token" not in record.payload["form"]


def test_submitting_the_same_form_twice_is_one_ticket(small_bureau_platform: Any) -> None:
    client = small_bureau_platform.server.test_client()
    data = letter(open_form(client))
    assert client.post("/mailbox", data=data).status_code == 201
    again = client.post("/mailbox", data=data)
    assert again.status_code == 200 and len(tickets(small_bureau_platform)) == 1


@pytest.mark.parametrize("changes, field, words", [
    ({"name": ""}, "name", "required"),
    ({"phone": None}, "phone", "required"),
    ({"phone": "12ab"}, "phone", "not a phone number"),
    ({"email": "wang-at-example"}, "email", "not an e-mail address"),
    ({"kind": "moan"}, "kind", "is not one of"),
    ({"title": "标" * 101}, "title", "at most 100"),
    ({"content": "长" * 20_001}, "content", "at most 20000"),
    ({"form_id": "x"}, "form_id", "malformed"),
])
def test_a_bad_letter_is_shown_again_with_the_reason_and_kept(small_bureau_platform: Any, changes: dict[str, Any],
                                                              field: str, words: str) -> None:
    client = small_bureau_platform.server.test_client()
    data = letter(open_form(client), **changes)
    response = client.post("/mailbox", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and words in html and f"{field}:" in html
    assert count(small_bureau_platform, Ticket) == 0
    [dead] = dead_letters(small_bureau_platform)
    assert dead.channel == "director_mailbox" and any(e["field"] == field and words in e["message"] for e in dead.errors)
    stored = parse_qs(dead.payload, keep_blank_values=True)
    assert stored["content"] == [data["content"]] and "csrf_token" not in stored
    # Resubmission after fixing it is taken.
    fixed = client.post("/mailbox", data=letter(open_form(client)))
    assert fixed.status_code == 201 and count(small_bureau_platform, Ticket) == 1


def test_csrf_and_origin_are_checked(small_bureau_platform: Any) -> None:
    client = small_bureau_platform.server.test_client()
    hidden = open_form(client)
    forged = client.post("/mailbox", data=letter({**hidden, "csrf_token": "0" * 32}))
    assert forged.status_code == 403 and "csrf_token" in forged.get_data(as_text=True)
    cross = client.post("/mailbox", data=letter(hidden), headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403 and "evil.example" in cross.get_data(as_text=True)
    fresh = small_bureau_platform.server.test_client()  # another browser: no session, so no token
    assert fresh.post("/mailbox", data=letter(hidden)).status_code == 403
    assert count(small_bureau_platform, Ticket) == 0 and count(small_bureau_platform, DeadLetter) == 3
    assert client.post("/mailbox", data=letter(hidden), headers={"Referer": "http://localhost/mailbox"}).status_code == 201


def test_each_client_address_is_rate_limited(small_bureau_platform: Any) -> None:
    client = small_bureau_platform.server.test_client()
    hidden = open_form(client)
    statuses = [client.post("/mailbox", data=letter(hidden, form_id=f"{i:032x}", title=f"第{i}封"),
                            environ_base={"REMOTE_ADDR": "10.1.1.1"}).status_code for i in range(7)]
    assert all(s in (200, 201) for s in statuses[:5]) and statuses[5:] == [429, 429]
    other = client.post("/mailbox", data=letter(hidden, form_id="f" * 32), environ_base={"REMOTE_ADDR": "10.1.1.2"})
    assert other.status_code in (200, 201)
    assert count(small_bureau_platform, DeadLetter) == 0  # throttling is not a refusal of the letter's content


# ------------------------------------------------------------------- .eml
def eml(subject: str, body: str, charset: str = "utf-8", cte: str = "base64", *, date: str | None =
        "Mon, 23 Nov 2026 09:30:00 +0800", message_id: str | None = "<a1@mail.example.cn>",
        sender: str = "=?utf-8?B?5byg5LiJ?= <zhang@example.cn>", html: bool = False) -> bytes:
    raw = body.encode(charset)
    payload = base64.encodebytes(raw).decode() if cte == "base64" else quopri.encodestring(raw).decode()
    headers = [f"From: {sender}", "To: juzhang@police.example.cn",
               f"Subject: {Header(subject, charset).encode()}", "MIME-Version: 1.0",
               f"Content-Type: text/{'html' if html else 'plain'}; charset=\"{charset}\"",
               f"Content-Transfer-Encoding: {cte}"]
    if date:
        headers.append(f"Date: {date}")
    if message_id:
        headers.append(f"Message-ID: {message_id}")
    return ("\r\n".join(headers) + "\r\n\r\n" + payload).encode("ascii")


def test_utf8_base64_mail(tmp_path: Path) -> None:
    new = mailbox.parse_eml(eml("反映小区噪音问题", "局长您好：\n小区旁酒吧每晚噪音扰民。电话13812345678。"), tz=TZ)
    assert new.title == "反映小区噪音问题" and "酒吧每晚噪音扰民" in new.content
    assert new.received_at == datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
    assert (new.citizen_name, new.citizen_phone, new.topic) == ("张三", "13812345678", "noise")
    assert new.external_id == "EML-a1@mail.example.cn" and new.channel == "director_mailbox"


def test_gb2312_labelled_mail_with_gbk_characters_in_quoted_printable() -> None:
    # 镕 is GBK, not GB2312: mail labelled gb2312 carries it anyway.
    data = eml("关于朱镕基路违停的建议", "建议在朱镕基路增设违停抓拍。", charset="gbk", cte="quoted-printable")
    data = data.replace(b'charset="gbk"', b'charset="gb2312"')
    new = mailbox.parse_eml(data, tz=TZ)
    assert new.title == "关于朱镕基路违停的建议" and new.content == "建议在朱镕基路增设违停抓拍。"
    assert new.kind == "suggestion" and new.topic == "traffic"


def test_gb18030_html_only_mail() -> None:
    data = eml("求助", "<html><body><p>我的电动车在<b>历下区</b>被盗了</p><p>请帮忙</p></body></html>",
               charset="gb18030", html=True)
    new = mailbox.parse_eml(data, tz=TZ)
    assert "我的电动车在 历下区 被盗了" in new.content and "<" not in new.content
    assert new.district == "历下区" and new.topic == "theft"


def test_a_mail_without_a_zone_is_read_in_beijing_time() -> None:
    new = mailbox.parse_eml(eml("t", "内容", date="Mon, 23 Nov 2026 09:30:00 -0000"), tz=TZ)
    assert new.received_at == datetime(2026, 11, 23, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize("kwargs, field", [
    ({"date": None}, "Date"),
    ({"date": "someday"}, "Date"),
    ({"sender": ""}, "From"),
    ({"sender": "=?utf-8?B?5byg5LiJ?= <not-an-address>"}, "From"),
])
def test_bad_mails_are_refused_with_the_header_named(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(mailbox.Rejected) as err:
        mailbox.parse_eml(eml("标题", "内容", **kwargs), tz=TZ)
    assert field in [e.field for e in err.value.errors]


def test_eml_import_is_idempotent_and_keeps_refused_files(small_bureau_platform: Any, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "1.eml").write_bytes(eml("建议增加巡逻", "建议夜间增加巡逻，最近小区常有陌生人。", message_id="<m1@x>"))
    (folder / "2.eml").write_bytes(eml("咨询护照办理", "请问护照过期了怎么办理？", message_id="<m2@x>",
                                       sender="=?gb2312?B?wO7LxA==?= <li4@example.cn>"))
    (folder / "3.eml").write_bytes(eml("无日期", "内容", date=None, message_id="<m3@x>"))
    (folder / "notes.txt").write_text("not a mail")
    monkeypatch.setenv("DATABASE_URL", small_bureau_platform.settings.database_url)
    assert app.main(["intake", "eml", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "3 files: 2 new tickets" in out and "1 refused" in out and "Date" in out
    by_id = {r.external_id: r for r in records(small_bureau_platform)}
    assert set(by_id) == {"EML-m1@x", "EML-m2@x"}
    names = {t.citizen_name for t in tickets(small_bureau_platform)}
    assert "李四" in names  # a GB2312 encoded-word From header
    [dead] = dead_letters(small_bureau_platform)
    assert dead.source.endswith("3.eml") and "Message-ID: <m3@x>" in dead.payload
    assert app.main(["intake", "eml", str(folder)]) == 0
    assert "0 new tickets" in capsys.readouterr().out
    assert len(tickets(small_bureau_platform)) == 2 and len(dead_letters(small_bureau_platform)) == 1
    assert utcnow()  # the import used the wall clock only for dispatch
    with unit_of_work(small_bureau_platform.test_factory) as s:
        assert s.query(Ticket).filter(Ticket.channel == "director_mailbox").count() == 2


def test_a_long_letter_is_taken_and_a_longer_one_refused_without_a_server_error(small_bureau_platform: Any) -> None:
    client = small_bureau_platform.server.test_client()
    assert 'maxlength="20000"' in client.get("/mailbox").get_data(as_text=True)
    response = client.post("/mailbox", data=letter(open_form(client), content="长" * 6_999))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert [len(t.content) for t in tickets(small_bureau_platform)] == [6_999]
    # Past the limit: the reason, and the letter kept as a dead letter (never a 5xx).
    huge = client.post("/mailbox", data=letter(open_form(client), content="长" * 60_000))
    assert huge.status_code == 400 and count(small_bureau_platform, Ticket) == 1
    [dead] = dead_letters(small_bureau_platform)
    assert {"field": "content", "message": "is 60000 characters long; at most 20000 are accepted"} in dead.errors


def test_a_long_mail_is_taken_and_a_longer_one_refused() -> None:
    assert len(mailbox.parse_eml(eml("长信", "长" * 6_999), tz=TZ).content) == 6_999
    with pytest.raises(mailbox.Rejected) as err:
        mailbox.parse_eml(eml("长信", "长" * 20_001), tz=TZ)
    assert [(e.field, e.message) for e in err.value.errors] == [("(body)", "is 20001 characters; at most 20000")]
