"""The OpenAPI document describes exactly the /api/v1 routes Flask serves, and is a valid OpenAPI 3.1."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from openapi_spec_validator import validate

from tests.helpers import ApiWorld
from tests.helpers import api_world as build_api_world

API = "/api/v1"
IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture(scope="module")
def openapi_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiWorld]:
    yield from build_api_world(tmp_path_factory.mktemp("openapi"))


@pytest.fixture(scope="module")
def document(openapi_world: ApiWorld) -> dict[str, Any]:
    world = openapi_world
    response = world.get(f"{API}/openapi.json", None)  # no login needed to read the description
    assert response.status_code == 200 and response.is_json
    body: dict[str, Any] = response.get_json()
    return body


def served(world: ApiWorld) -> set[tuple[str, str]]:
    """(path as OpenAPI writes it, method) of every /api/v1 route in Flask's URL map."""
    routes = set()
    for rule in world.platform.server.url_map.iter_rules():
        if not rule.rule.startswith(API + "/") or rule.endpoint == "api.unknown_route":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len(API):])
        routes |= {(path, method.lower()) for method in rule.methods - IGNORED_METHODS}
    return routes


def test_every_route_is_described_and_nothing_else(openapi_world: ApiWorld, document: dict[str, Any]) -> None:
    world = openapi_world
    described = {(path, method) for path, ops in document["paths"].items() for method in ops}
    routes = served(world)
    assert routes - described == set(), "routes without a description (add @operation next to the view)"
    assert described - routes == set(), "described operations that Flask does not serve"
    assert len(routes) >= 20 and document["servers"] == [{"url": API}]


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_each_operation_says_who_may_call_it_and_how_it_refuses(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["sessionCookie"]["in"] == "cookie"
    public = set()
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            assert op["summary"] and op["operationId"], (path, method)
            error = op["responses"]["default"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/Error"}, (path, method)
            if op["security"] == []:
                public.add(f"{method.upper()} {path}")
            else:
                assert "401" in op["responses"] or op["security"] == [{"smsSecret": []}], (path, method)
    assert public == {"GET /health", "GET /openapi.json", "POST /intake/hotline",
                      "POST /intake/hotline/{source_name}"}
    operation_ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))


def test_lists_are_described_as_pages(document: dict[str, Any]) -> None:
    for path in ("/alerts", "/users", "/tokens", "/supervision/orders", "/supervision/letters",
                 "/tickets/{number}/events"):
        op = document["paths"][path]["get"]
        names = {p["name"] for p in op["parameters"]}
        assert {"limit", "cursor"} <= names, path
        body = op["responses"]["200"]["content"]["application/json"]["schema"]
        assert {"items", "next_cursor"} <= set(body["required"]), path
        [limit] = [p for p in op["parameters"] if p["name"] == "limit"]
        assert (limit["schema"]["minimum"], limit["schema"]["maximum"], limit["schema"]["default"]) == (1, 500, 50)


def test_the_error_schema_is_the_shape_the_api_answers(openapi_world: ApiWorld, document: dict[str, Any]) -> None:
    from jsonschema import Draft202012Validator, ValidationError

    world = openapi_world
    validator = Draft202012Validator(document["components"]["schemas"]["Error"])
    for response in (world.get(f"{API}/alerts?status=x"), world.get(f"{API}/nope"), world.get(f"{API}/me", None)):
        validator.validate(response.get_json())
    with pytest.raises(ValidationError):
        validator.validate({"error": "a sentence, the old shape"})
