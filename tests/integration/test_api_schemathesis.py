"""Schemathesis fuzzes every /api/v1 operation against its OpenAPI description.

The platform runs in-process (WSGI) on SQLite and on the real PostgreSQL (the in-process
Redis stand-in for both), with tickets, orders, letters and alerts in it so
that lists have rows to check; requests carry an admin's bearer token (and
the SMS gateway's secret). Valid and invalid inputs alike must never get a
5xx, and every answer must match its described status, media type and schema.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks
from sqlalchemy import select

from tests.helpers import ApiWorld
from tests.helpers import api_world as build_api_world
from tests.helpers import new_request
from tickets import lifecycle, supervision
from tickets.uow import unit_of_work
from tickets import services
from tickets.models import Alert, Unit, utcnow

SMS_SECRET = "schemathesis-sms-secret"
# Per operation, valid and invalid inputs: ~57 operations on two databases in about a minute.
# MINSHENG_FUZZ_EXAMPLES=N for a longer hunt (docs/SECURITY.md records one).
EXAMPLES = int(os.environ.get("MINSHENG_FUZZ_EXAMPLES", "20"))
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance, checks.response_headers_conformance]


def _seed(world: ApiWorld) -> None:
    """A few of everything the lists show."""
    now = utcnow()
    with unit_of_work(world.platform.factory) as s:
        tickets = [services.receive_one(s, new_request(now - timedelta(hours=3, minutes=i), phone=f"1381234560{i}"),
                                        now=now - timedelta(hours=3)) for i in range(4)]
        lifecycle.contact(s, tickets[0], now - timedelta(hours=2), note="已联系")
        station = s.scalar(select(Unit).where(Unit.code == "JN-LX-01"))
        supervision.issue_reminder_letter(s, station, now - timedelta(hours=1), reason="repeated", text="重复投诉",
                                          ticket=tickets[1])
        s.add(Alert(key="schemathesis-1", kind="surge", topic="noise", area_kind="district", area="历下区",
                    area_name="历下区", unit_id=station.parent_id, count=12, reason="12 > 4.1", status="open",
                    first_seen_at=now - timedelta(hours=1), last_seen_at=now, lat=36.66, lon=117.02))
        numbers = [t.number for t in tickets]
    for number in numbers[:2]:
        assert world.post(f"/api/v1/tickets/{number}/supervision", "duty", json={"note": "请办理"}).status_code == 201
    world.platform.aggregator.rebuild()  # the live snapshot answers 503 until the live state is built


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzzed_world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiWorld]:
    """The seeded platform on SQLite, then on the real PostgreSQL (NUL bytes, dates and
    timeouts fail differently there)."""
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_server").create_database("schemathesis")
    for world in build_api_world(tmp_path_factory.mktemp("schemathesis"), url, sms_inbound_secret=SMS_SECRET):
        _seed(world)
        yield world


@pytest.fixture(scope="module")
def api_schema(fuzzed_world: ApiWorld) -> Any:
    world = fuzzed_world
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", world.platform.server)


def _labels() -> list[str]:
    """Every operation, known at collection from the blueprint alone (no database needed)."""
    from flask import Flask

    from dashboard.api import blueprint, openapi

    app = Flask(__name__)
    app.register_blueprint(blueprint)
    return sorted(f"{method} {openapi.openapi_path(rule)}" for rule, method in openapi.api_routes(app))


@pytest.mark.parametrize("label", _labels())
def test_the_api_answers_as_described(api_schema: Any, fuzzed_world: ApiWorld, label: str) -> None:
    world = fuzzed_world
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in the OpenAPI document"
    # Identity: the in-process (WSGI) transport hands the body over as sent, and the platform
    # compresses for any client that asks (test_compression checks that answer separately).
    headers = world.headers("admin", **{"X-Minsheng-Sms-Secret": SMS_SECRET, "Accept-Encoding": "identity"})

    valid, invalid = (operation.as_strategy(mode) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE))

    @given(case=st.one_of(valid, invalid))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                     HealthCheck.data_too_large])
    def answers_as_described(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    answers_as_described()
