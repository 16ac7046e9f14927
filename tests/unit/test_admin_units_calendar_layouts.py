"""/admin/units and /admin/calendar as their two readers see them: an admin gets the forms, a
supervisor the same tree, grid and report without any (the API refuses their writes anyway)."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from layouts import admin_calendar, admin_units
from tickets import workcalendar

UNITS = [
    {"code": "JN", "name": "济南市公安局", "name_en": None, "level": 1, "kind": "bureau", "parent": None, "active": True,
     "district": None, "topics": [], "open": 0},
    {"code": "JN-TQ", "name": "天桥分局", "name_en": None, "level": 2, "kind": "branch", "parent": "JN", "active": True,
     "district": "天桥区", "topics": [], "open": 0},
    {"code": "JN-LX", "name": "历下分局", "name_en": None, "level": 2, "kind": "branch", "parent": "JN", "active": True,
     "district": "历下区", "topics": [], "open": 0},
    {"code": "JN-TQ-01", "name": "泺口派出所", "name_en": None, "level": 3, "kind": "station", "parent": "JN-TQ",
     "active": True, "district": "天桥区", "topics": [], "open": 1},
]
HELD = [{"number": "MS20261203000001", "status": "dispatched", "topic": "noise", "received_at": "2026-12-03T01:00:00",
         "resolve_due_at": "2026-12-04T01:30:00"}]


def walk(node: Any) -> Iterator[Any]:
    yield node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list) else [children] if children is not None else []:
        yield from walk(child)


def posts(node: Any) -> list[str]:
    return [n.to_plotly_json()["props"].get("data-admin-post") for n in walk(node)
            if hasattr(n, "to_plotly_json") and n.to_plotly_json()["props"].get("data-admin-post")]


def test_the_units_page_has_forms_for_an_admin_only() -> None:
    data = {"units": UNITS, "topics": [], "selected": "JN-TQ-01", "held": HELD}
    written = posts(admin_units.layout("zh-CN", writable=True, **data))
    assert {"/api/v1/admin/units/move", "/api/v1/admin/units/rehome", "/api/v1/admin/units/deactivate",
            "/api/v1/admin/units/rename", "/api/v1/admin/units/add"} <= set(written)
    read = admin_units.layout("zh-CN", writable=False, **data)
    assert posts(read) == [] and any(getattr(n, "id", None) == "admin-units-tree" for n in walk(read))
    assert "MS20261203000001" in str(read.to_plotly_json())  # the preview, read-only too


def test_the_calendar_page_has_forms_for_an_admin_only() -> None:
    view = workcalendar.year_view(None, 2026)
    days = [{"date": date.fromordinal(date(2026, 1, 1).toordinal() + i).isoformat(), "status": "workday", "note": None}
            for i in range(365)]
    grid = {"year": 2026, "origin": view.origin, "loaded_at": None, "days": days, "holidays": [], "workdays": []}
    data = {"years": [{"year": 2026, "origin": "chinesecalendar"}], "year": grid,
            "working_hours": {"periods": [["08:30", "12:00"]], "hours": 3.5, "file": "sla_policy.yaml"}}
    assert {"/api/v1/admin/calendar/schedule", "/api/v1/admin/calendar/day"} <= set(
        posts(admin_calendar.layout("zh-CN", writable=True, **data)))
    assert posts(admin_calendar.layout("zh-CN", writable=False, **data)) == []
