"""Open311 GeoReport v2 under /open311/v2/: services, POST and GET requests, tokens, errors."""
from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest

from feeds import open311 as o311
from tests.helpers import OPEN311_KEY, TZ, count, dead_letters, new_request, records, submit, tickets, with_changes
from tickets import lifecycle
from tickets.uow import unit_of_work
from tickets.models import DeadLetter, Ticket, utcnow

BASE = "/open311/v2"


def form(**changes: Any) -> dict[str, Any]:
    base = {"api_key": OPEN311_KEY, "service_code": "noise", "lat": "36.664", "long": "117.02",
            "description": "楼下烧烤店每天营业到凌晨，噪音很大。", "attribute[noise_source]": "shop",
            "email": "zhang@example.cn", "first_name": "三", "last_name": "张", "phone": "13812345678"}
    return with_changes(base, changes)


def post(platform: Any, data: dict[str, Any], fmt: str = "json", **kw: Any) -> Any:
    return platform.server.test_client().post(f"{BASE}/requests.{fmt}", data=data, **kw)


def descriptions(response: Any) -> list[str]:
    body = response.get_json()
    assert isinstance(body, list) and all(set(e) == {"code", "description"} for e in body), body
    assert all(e["code"] == response.status_code for e in body)
    return [e["description"] for e in body]


# ---------------------------------------------------------------- services
def test_discovery_names_the_spec_and_formats(small_bureau_platform: Any) -> None:
    body = small_bureau_platform.server.test_client().get(f"{BASE}/discovery.json").get_json()
    [endpoint] = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2") and set(endpoint["formats"]) == {"application/json", "text/xml"}


def test_services_are_the_topics(small_bureau_platform: Any) -> None:
    client = small_bureau_platform.server.test_client()
    services = client.get(f"{BASE}/services.json").get_json()
    by_code = {s["service_code"]: s for s in services}
    assert set(by_code) == {"noise", "theft", "fraud", "traffic", "household", "exit_entry", "vehicle", "dispute",
                            "conduct", "lost_property", "other"}
    assert by_code["noise"]["service_name"] == "噪音扰民" and by_code["noise"]["metadata"] is True
    assert by_code["noise"]["type"] == "realtime"
    xml = ET.fromstring(client.get(f"{BASE}/services.xml").data)
    assert xml.tag == "services" and len(xml.findall("service")) == 11
    assert xml.find("service/service_code").text == "noise"
    assert xml.find("service/metadata").text == "true"


def test_service_definition_lists_attributes_with_values(small_bureau_platform: Any) -> None:
    client = small_bureau_platform.server.test_client()
    definition = client.get(f"{BASE}/services/noise.json").get_json()
    assert definition["service_code"] == "noise"
    attrs = {a["code"]: a for a in definition["attributes"]}
    assert attrs["noise_source"]["required"] is True and attrs["noise_source"]["datatype"] == "singlevaluelist"
    assert {"key": "construction", "name": "建筑施工"} in attrs["noise_source"]["values"]
    assert attrs["kind"]["order"] == 1 and attrs["kind"]["variable"] is True
    xml = ET.fromstring(client.get(f"{BASE}/services/noise.xml").data)
    assert xml.tag == "service_definition"
    values = xml.findall("attributes/attribute[code='noise_source']/values/value")
    assert ("construction", "建筑施工") in [(v.find("key").text, v.find("name").text) for v in values]


def test_unknown_service_and_jurisdiction_are_404(small_bureau_platform: Any) -> None:
    client = small_bureau_platform.server.test_client()
    response = client.get(f"{BASE}/services/parking.json")
    assert response.status_code == 404 and "parking" in descriptions(response)[0]
    response = client.get(f"{BASE}/services.json?jurisdiction_id=sfgov.org")
    assert response.status_code == 404 and "jurisdiction_id" in descriptions(response)[0]
    assert client.get(f"{BASE}/services.json?jurisdiction_id=police.jinan.gov.cn").status_code == 200
    xml = client.get(f"{BASE}/services/parking.xml")
    root = ET.fromstring(xml.data)
    assert xml.status_code == 404 and root.tag == "errors" and root.find("error/code").text == "404"
    assert client.get(f"{BASE}/services.csv").status_code == 404


# -------------------------------------------------------------------- POST
def test_post_creates_a_ticket_and_get_shows_it(small_bureau_platform: Any) -> None:
    response = post(small_bureau_platform, form())
    assert response.status_code == 201, response.get_json()
    [created] = response.get_json()
    number, token = created["service_request_id"], created["token"]
    [ticket] = tickets(small_bureau_platform)
    assert number == ticket.number
    assert (ticket.channel, ticket.topic, ticket.kind, ticket.district) == ("open311", "noise", "complaint", "历下区")
    assert ticket.citizen_name == "张三" and ticket.citizen_phone == "13812345678"
    assert "【噪声来源】商铺经营" in ticket.content

    client = small_bureau_platform.server.test_client()
    [view] = client.get(f"{BASE}/requests/{number}.json").get_json()
    with small_bureau_platform.test_factory() as s:
        t = s.get(Ticket, ticket.id)
        unit_name = t.unit.name
        due = t.resolve_due_at
    assert view["service_request_id"] == number and view["status"] == "open"
    assert view["service_code"] == "noise" and view["service_name"] == "噪音扰民"
    assert view["agency_responsible"] == unit_name and unit_name in view["status_notes"]
    assert view["expected_datetime"] == due.astimezone(TZ).isoformat(timespec="seconds")
    assert view["expected_datetime"].endswith("+08:00") and view["requested_datetime"].endswith("+08:00")
    assert (view["lat"], view["long"]) == (36.664, 117.02)
    # Personal data never leaves through the public GET.
    text = client.get(f"{BASE}/requests/{number}.json").get_data(as_text=True)
    assert "13812345678" not in text and "张三" not in text and "zhang@example.cn" not in text
    assert client.get(f"{BASE}/tokens/{token}.json").get_json() == [{"service_request_id": number, "token": token}]


def test_post_with_an_address_only_takes_the_district_from_it(small_bureau_platform: Any) -> None:
    response = post(small_bureau_platform, form(lat=None, long=None, address_string="济南市市中区经四路123号"))
    assert response.status_code == 201, response.get_json()
    [ticket] = tickets(small_bureau_platform)
    assert ticket.district == "市中区" and ticket.lat is None and ticket.address == "济南市市中区经四路123号"


def test_post_answers_in_xml(small_bureau_platform: Any) -> None:
    response = post(small_bureau_platform, form(), fmt="xml")
    assert response.status_code == 201 and response.mimetype == "text/xml"
    root = ET.fromstring(response.data)
    assert root.tag == "service_requests"
    assert root.find("request/service_request_id").text == tickets(small_bureau_platform)[0].number


def test_the_same_post_twice_is_one_request(small_bureau_platform: Any) -> None:
    first = post(small_bureau_platform, form())
    again = post(small_bureau_platform, form())
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()[0]["service_request_id"] == again.get_json()[0]["service_request_id"]
    assert len(tickets(small_bureau_platform)) == 1
    other = post(small_bureau_platform, form(description="另一件事：楼上装修噪音。"))
    assert other.status_code == 201 and len(tickets(small_bureau_platform)) == 2


def test_an_idempotency_key_makes_a_retry_the_same_request(small_bureau_platform: Any) -> None:
    headers = {"Idempotency-Key": "client-42"}
    first = post(small_bureau_platform, form(), headers=headers)
    retry = post(small_bureau_platform, form(description="重试时描述略有改动"), headers=headers)
    assert first.get_json()[0]["service_request_id"] == retry.get_json()[0]["service_request_id"]
    assert retry.status_code == 200 and len(tickets(small_bureau_platform)) == 1


@pytest.mark.parametrize("changes, status, words", [
    ({"api_key": None}, 403, "api_key: is required"),
    ({"api_key": "guessed"}, 403, "api_key: is invalid"),
    ({"service_code": None}, 400, "service_code: is required"),
    ({"service_code": "parking"}, 404, "service_code: 'parking' not found"),
    ({"jurisdiction_id": "sfgov.org"}, 404, "jurisdiction_id: 'sfgov.org' not found"),
    ({"lat": None, "long": None}, 400, "a location is required"),
    ({"lat": "north"}, 400, "lat: must be a number"),
    ({"lat": "91"}, 400, "lat: 91 is out of range"),
    ({"long": None}, 400, "long: lat and long come together"),
    ({"lat": "42.3594", "long": "-71.0587"}, 400, "outside the area served"),
    ({"lat": "0", "long": "0"}, 400, "not a real location"),
    ({"attribute[noise_source]": None}, 400, "attribute[noise_source]: is required"),
    ({"attribute[noise_source]": "aliens"}, 400, "'aliens' is not one of"),
    ({"attribute[colour]": "red"}, 400, "attribute[colour]: is not an attribute of service noise"),
    ({"attribute[kind]": "moan"}, 400, "attribute[kind]: 'moan' is not one of"),
    ({"description": "噪" * 4001}, 400, "description: is 4001 characters long; at most 4000"),
    ({"email": "not-an-address"}, 400, "email: 'not-an-address' is not an e-mail address"),
    ({"phone": "ring ring"}, 400, "phone: 'ring ring' is not a phone number"),
    ({"media_url": "javascript:alert(1)"}, 400, "media_url"),
])
def test_each_bad_post_gets_the_specs_error_and_a_dead_letter(small_bureau_platform: Any, changes: dict[str, Any],
                                                              status: int, words: str) -> None:
    response = post(small_bureau_platform, form(**changes))
    assert response.status_code == status, response.get_json()
    assert any(words in d for d in descriptions(response)), descriptions(response)
    assert count(small_bureau_platform, Ticket) == 0
    [letter] = dead_letters(small_bureau_platform)
    assert letter.channel == "open311"
    stored = parse_qs(letter.payload)
    assert OPEN311_KEY not in letter.payload  # keys are never kept
    for key, value in form(**changes).items():
        assert stored.get(key) == (["***"] if key == "api_key" else [str(value)]), key
    reasons = [f"{e['field']}: {e['message']}" for e in letter.errors]
    if status == 403:  # nobody vouched for it: its sender's address, its length and hash beside the reasons
        assert letter.source == "POST /open311/v2/requests.json from 127.0.0.1"
        assert reasons.pop().startswith(f"(body): {len(letter.payload.encode())} bytes, sha256 ")
    else:
        assert letter.source == "POST /open311/v2/requests.json"
    assert reasons and reasons == descriptions(response)


def test_datetime_attributes_need_a_zone(small_bureau_platform: Any) -> None:
    good = form(service_code="theft", **{"attribute[noise_source]": None,
                                         "attribute[occurred_at]": "2026-11-20T22:00:00+08:00",
                                         "attribute[items]": "ebike,phone", "attribute[loss_value]": "3200"})
    bad = dict(good, **{"attribute[occurred_at]": "2026-11-20T22:00:00", "description": "另一件"})
    response = post(small_bureau_platform, bad)
    assert response.status_code == 400 and any("no time zone" in d for d in descriptions(response))
    response = post(small_bureau_platform, good)
    assert response.status_code == 201, response.get_json()
    [ticket] = tickets(small_bureau_platform)
    assert ticket.topic == "theft" and ticket.kind == "report" and ticket.sla_class == "enforcement"
    assert "电动车、手机" in ticket.content and "3200" in ticket.content


def test_resubmission_after_an_error_is_taken(small_bureau_platform: Any) -> None:
    assert post(small_bureau_platform, form(lat="abc")).status_code == 400
    response = post(small_bureau_platform, form())
    assert response.status_code == 201 and len(tickets(small_bureau_platform)) == 1
    assert count(small_bureau_platform, DeadLetter) == 1


# --------------------------------------------------------------------- GET
_TEXTS = itertools.cycle([
    ("楼下烧烤店凌晨噪音", "烧烤店每晚营业到凌晨两点，油烟和噪音都很大。", 36.6640, 117.0200),
    ("工地夜间施工", "文化东路工地夜里打桩，吵得整栋楼睡不着。", 36.6640, 117.0500),
    ("学校门口违停", "小学门口放学时车辆乱停，堵塞交通。", 36.6600, 116.9930),
    ("广场舞音响太大", "大观园广场的音响每晚开到十点。", 36.6650, 116.9400),
    ("商铺喇叭叫卖", "经十路商铺用喇叭循环叫卖，从早到晚。", 36.6670, 117.0620),
    ("电动车被盗", "楼下停放的电动车昨夜被盗。", 36.6470, 117.0350),
    ("装修噪音", "隔壁装修周末一早就开始电钻。", 36.6660, 117.0950),
    ("酒吧音乐扰民", "酒吧凌晨还在放音乐。", 36.6740, 117.0260),
])
_phones = iter(range(13900000001, 13900009999))


def _ticket_at(platform: Any, at: datetime, channel: str = "open311", **kw: Any) -> Ticket:
    """A ticket unlike every other one here (so de-duplication keeps them apart)."""
    title, content, lat, lon = next(_TEXTS)
    request = replace(new_request(at, channel=channel, lat=lat, lon=lon, phone=str(next(_phones)), **kw),
                      title=title, content=content)
    return submit(platform.test_factory, request, now=at)


def test_get_requests_defaults_to_90_days_and_filters(small_bureau_platform: Any) -> None:
    now = utcnow()
    recent = _ticket_at(small_bureau_platform, now - timedelta(days=2))
    old = _ticket_at(small_bureau_platform, now - timedelta(days=100))
    traffic = _ticket_at(small_bureau_platform, now - timedelta(days=1), topic="traffic")
    other_channel = _ticket_at(small_bureau_platform, now - timedelta(days=1), channel="call")
    client = small_bureau_platform.server.test_client()
    numbers = [r["service_request_id"] for r in client.get(f"{BASE}/requests.json").get_json()]
    assert numbers == [traffic.number, recent.number]  # newest first; the 100-day-old one is outside the window
    assert other_channel.number not in numbers  # other channels' tickets are not published
    only = client.get(f"{BASE}/requests.json?service_code=traffic").get_json()
    assert [r["service_request_id"] for r in only] == [traffic.number]
    start = (now - timedelta(days=120)).astimezone(TZ).isoformat(timespec="seconds")
    end = (now - timedelta(days=60)).astimezone(TZ).isoformat(timespec="seconds")
    window = client.get(f"{BASE}/requests.json", query_string={"start_date": start, "end_date": end}).get_json()
    assert [r["service_request_id"] for r in window] == [old.number]
    listed = client.get(f"{BASE}/requests.json",
                        query_string={"service_request_id": f"{old.number},{recent.number},MS000"}).get_json()
    assert [r["service_request_id"] for r in listed] == [old.number, recent.number]  # overrides the window
    assert client.get(f"{BASE}/requests/{other_channel.number}.json").status_code == 404


@pytest.mark.parametrize("query, words", [
    ({"start_date": "2026-11-01T00:00:00"}, "has no time zone"),
    ({"end_date": "2026-11-01"}, "has no time zone"),
    ({"start_date": "yesterday"}, "is not a W3C datetime"),
    ({"start_date": "2026-01-01T00:00:00+08:00", "end_date": "2026-06-01T00:00:00+08:00"}, "more than 90 days"),
    ({"start_date": "2026-06-01T00:00:00Z", "end_date": "2026-05-01T00:00:00Z"}, "after end_date"),
    ({"status": "pending"}, "is not open or closed"),
])
def test_bad_get_parameters_are_400(small_bureau_platform: Any, query: dict[str, str], words: str) -> None:
    response = small_bureau_platform.server.test_client().get(f"{BASE}/requests.json", query_string=query)
    assert response.status_code == 400 and any(words in d for d in descriptions(response))


def test_status_maps_open_and_closed(small_bureau_platform: Any) -> None:
    now = utcnow()
    open_one = _ticket_at(small_bureau_platform, now - timedelta(hours=5))
    closed_one = _ticket_at(small_bureau_platform, now - timedelta(hours=4))
    with unit_of_work(small_bureau_platform.test_factory) as s:
        t = s.get(Ticket, closed_one.id)
        for step in (lifecycle.contact, lifecycle.report, lifecycle.approve, lifecycle.reply, lifecycle.close):
            step(s, t, now - timedelta(hours=1))
    client = small_bureau_platform.server.test_client()
    closed = client.get(f"{BASE}/requests.json?status=closed").get_json()
    assert [r["service_request_id"] for r in closed] == [closed_one.number]
    assert closed[0]["status"] == "closed" and closed[0]["status_notes"] == "已办结"
    assert closed[0]["updated_datetime"] == (now - timedelta(hours=1)).astimezone(TZ).isoformat(timespec="seconds")
    opened = client.get(f"{BASE}/requests.json?status=open").get_json()
    assert [r["service_request_id"] for r in opened] == [open_one.number]
    both = client.get(f"{BASE}/requests.json?status=open,closed").get_json()
    assert len(both) == 2


def test_a_merged_request_reports_the_ticket_that_handles_it(small_bureau_platform: Any) -> None:
    from tickets.roles import SYSTEM

    now = utcnow()
    mine = _ticket_at(small_bureau_platform, now - timedelta(hours=2))
    main = _ticket_at(small_bureau_platform, now - timedelta(hours=3), channel="hotline_12345")
    with unit_of_work(small_bureau_platform.test_factory) as s:
        lifecycle.merge(s, s.get(Ticket, mine.id), s.get(Ticket, main.id), now - timedelta(hours=1), SYSTEM)
    [view] = small_bureau_platform.server.test_client().get(f"{BASE}/requests/{mine.number}.json").get_json()
    assert view["service_request_id"] == mine.number and view["status"] == "open"
    assert main.number in view["status_notes"]


def test_get_request_in_xml_and_unknown_ids(small_bureau_platform: Any) -> None:
    ticket = _ticket_at(small_bureau_platform, utcnow() - timedelta(hours=1))
    client = small_bureau_platform.server.test_client()
    root = ET.fromstring(client.get(f"{BASE}/requests/{ticket.number}.xml").data)
    assert root.tag == "service_requests" and root.find("request/status").text == "open"
    assert root.find("request/requested_datetime").text.endswith("+08:00")
    assert client.get(f"{BASE}/requests/MS19990101000001.json").status_code == 404
    assert client.get(f"{BASE}/tokens/nope.json").status_code == 404


def test_api_keys_are_kept_as_hashes() -> None:
    setting = f"demo={o311.key_hash('k1')}, partner={o311.key_hash('k2')}"
    assert o311.check_key(setting, "k2") == "partner"
    with pytest.raises(o311.Open311Error) as err:
        o311.check_key(setting, "k3")
    assert err.value.code == 403
    assert "k1" not in setting


def test_window_with_only_a_start_date_runs_90_days(small_bureau_platform: Any) -> None:
    now = utcnow()
    t = _ticket_at(small_bureau_platform, now - timedelta(days=150))
    start = (now - timedelta(days=200)).isoformat()
    listed = small_bureau_platform.server.test_client().get(f"{BASE}/requests.json",
                                                            query_string={"start_date": start}).get_json()
    assert [r["service_request_id"] for r in listed] == [t.number]
    later = (now - timedelta(days=140)).isoformat()
    assert small_bureau_platform.server.test_client().get(f"{BASE}/requests.json",
                                             query_string={"start_date": later}).get_json() == []
    assert [r.channel for r in records(small_bureau_platform)] == ["open311"]


def test_a_request_joined_to_a_12345_ticket_shows_the_public_only_what_its_submitter_gave(
        small_bureau_platform: Any) -> None:
    """The 12345 caller's home address and exact place stay off the public GET; phone and ID-card
    numbers in the submitter's own words are masked, their coordinates rounded (3 decimals)."""
    from geo.coords import wgs84_to_gcj02
    from tests.helpers import push

    client = small_bureau_platform.server.test_client()
    home, home_point = "济南市历下区泉城路芙蓉街12号3单元501室", (36.6641234, 117.0209876)
    gcj = wgs84_to_gcj02(*home_point)
    pushed = push(client, {"工单编号": "GS20990101000001", "派单时间": utcnow().astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S"),
                           "来电人": "王先生", "联系电话": "13812345678", "事发地址": home, "纬度": gcj[0], "经度": gcj[1],
                           "诉求类型": "投诉", "标题": "烧烤店噪音扰民", "诉求内容": "楼下烧烤店每天营业到凌晨两点，噪音很大，请求处理。"})
    assert pushed.status_code == 201, pushed.get_json()
    number = pushed.get_json()["ticket_number"]
    said = "楼下烧烤店每天营业到凌晨两点，噪音很大，请求处理。联系我13812345678，身份证370102199001011231"
    answer = post(small_bureau_platform, form(lat="36.66459876", long="117.02012345", description=said,
                                              phone="13812345678"))
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()[0]["service_request_id"] == number and len(tickets(small_bureau_platform)) == 1
    for path in (f"{BASE}/requests/{number}.json", f"{BASE}/requests.json"):
        [view] = client.get(path).get_json()
        assert view["service_request_id"] == number
        assert view["description"] == "楼下烧烤店每天营业到凌晨两点，噪音很大，请求处理。联系我138****5678，身份证370102********1231"
        assert view["address"] is None and (view["lat"], view["long"]) == (36.665, 117.02)
        assert "12号" not in client.get(path).get_data(as_text=True)
    xml = client.get(f"{BASE}/requests/{number}.xml").get_data(as_text=True)
    assert "<lat>36.665</lat>" in xml and "501室" not in xml and "13812345678" not in xml


@pytest.mark.platform_settings(open311_coordinate_decimals=2)
def test_the_public_coordinates_are_rounded_as_configured(small_bureau_platform: Any) -> None:
    response = post(small_bureau_platform, form(lat="36.66459876", long="117.02012345",
                                                description="请拨0531-86012345，或 139 0531 0101"))
    [view] = small_bureau_platform.server.test_client().get(
        f"{BASE}/requests/{response.get_json()[0]['service_request_id']}.json").get_json()
    assert (view["lat"], view["long"]) == (36.66, 117.02)
    assert view["description"].startswith("请拨053****2345，或 139****0101")


@pytest.mark.platform_settings(intake_refusals_per_hour=2)
def test_a_post_with_a_wrong_key_keeps_4_kb_and_a_flood_of_them_is_429(small_bureau_platform: Any) -> None:
    big = form(api_key="guessed", description="噪" * 150_000)  # 1.35 MB once form-encoded
    for _ in range(2):
        assert post(small_bureau_platform, big).status_code == 403
    letters = dead_letters(small_bureau_platform)
    assert len(letters) == 2 and all(len(d.payload.encode()) <= 4096 for d in letters)
    assert "sha256" in letters[0].errors[-1]["message"] and "guessed" not in letters[0].payload
    throttled = post(small_bureau_platform, big)
    assert throttled.status_code == 429 and "at most 2 an hour" in descriptions(throttled)[0]
    assert len(dead_letters(small_bureau_platform)) == 2
    assert post(small_bureau_platform, form()).status_code == 201  # a client with its key goes on
