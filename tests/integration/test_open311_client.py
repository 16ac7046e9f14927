"""A third-party GeoReport v2 client (PyPI ``georeport``) against the real platform process.

``georeport`` reads (services, definitions, requests, one request) in JSON
and XML; it does not submit, so the POST goes through ``requests`` as any
client's form post would. The server is ``python app.py run`` on a fresh
SQLite database (tests/servers.PlatformProcess).
"""
from __future__ import annotations

import pytest
import requests
from georeport import GeoReport

from tests.helpers import OPEN311_KEY as DEMO_KEY
from tests.servers import PlatformProcess


def test_georeport_client_reads_services_and_definitions(served_embedded_platform: PlatformProcess) -> None:
    server = served_embedded_platform
    for fmt in ("json", "xml"):
        client = GeoReport(f"{server.base_url}/open311/v2", jurisdiction="police.jinan.gov.cn", output_format=fmt)
        services = client.get_service_list()
        codes = [s["service_code"] for s in services]
        assert "noise" in codes and "exit_entry" in codes and len(codes) == 11
        definition = client.get_service_definition("noise")
        attributes = definition["attributes"]
        if fmt == "xml":
            attributes = attributes["attribute"]
        assert "noise_source" in [a["code"] for a in attributes]


def test_a_posted_request_reads_back_through_the_client(served_embedded_platform: PlatformProcess) -> None:
    server = served_embedded_platform
    answer = requests.post(f"{server.base_url}/open311/v2/requests.json", data={
        "api_key": DEMO_KEY, "jurisdiction_id": "police.jinan.gov.cn", "service_code": "noise",
        "lat": "36.6640", "long": "117.0200", "description": "芙蓉街酒吧凌晨放音乐，声音很大。",
        "attribute[noise_source]": "entertainment", "phone": "13800000001",
    }, timeout=10)
    assert answer.status_code == 201, answer.text
    number = answer.json()[0]["service_request_id"]

    client = GeoReport(f"{server.base_url}/open311/v2", output_format="json")
    one = client.get_service_request(number)
    assert one["service_request_id"] == number and one["status"] == "open"
    assert one["service_code"] == "noise" and one["agency_responsible"]
    assert one["expected_datetime"].endswith("+08:00")
    listed = client.get_service_requests(service_code="noise", status="open")
    assert number in [r["service_request_id"] for r in listed]

    xml_client = GeoReport(f"{server.base_url}/open311/v2", output_format="xml")
    one_xml = xml_client.get_service_request(number)
    assert one_xml["service_request_id"] == number and one_xml["status"] == "open"

    refused = requests.post(f"{server.base_url}/open311/v2/requests.json",
                            data={"api_key": "wrong", "service_code": "noise", "lat": "36.66", "long": "117.02"},
                            timeout=10)
    assert refused.status_code == 403 and refused.json()[0]["code"] == 403
    with pytest.raises(requests.HTTPError):
        client.get_service_requests(start_date="2026-01-01T00:00:00")  # no zone: the spec's 400
