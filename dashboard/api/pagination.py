"""Cursor pagination for every list of the API.

    GET /api/v1/<list>?limit=50&cursor=<next_cursor of the page before>
    → {"items": [...], "next_cursor": "…" | null, ...the list's summary fields}

``limit`` is 1 to 500 (default 50). A cursor is the last row's sort key as
URL-safe base64 of a JSON array: opaque to clients, checked when it comes
back (anything that does not decode to the list's key types is a 400). Pages
are keyset pages in SQL (``WHERE key > last ORDER BY key LIMIT n + 1``), not
OFFSET: a page costs the same at the end of a long list as at its start, and
rows added meanwhile neither repeat nor go missing from the pages still to come.
"""
from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from flask import request
from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql.elements import ColumnElement

from dashboard.api.errors import BadParameter
from dashboard.api.params import integer
from tickets.models import NOT_TEXT

DEFAULT_LIMIT, MAX_LIMIT = 50, 500
INT64 = 2**63  # a cursor's integers must fit the database's BIGINT


@dataclass(frozen=True)
class Key:
    """One column of a list's sort key; the last one must be unique (an id)."""

    column: ColumnElement[Any] | QueryableAttribute[Any]
    descending: bool = False

    def ordered(self) -> ColumnElement[Any]:
        return self.column.desc() if self.descending else self.column.asc()

    def beyond(self, value: Any) -> ColumnElement[bool]:
        return self.column < value if self.descending else self.column > value

    @property
    def kind(self) -> type:
        sql_type = self.column.type
        return getattr(sql_type, "impl_instance", sql_type).python_type  # a TypeDecorator's: its storage type's


def encode(values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, (date, datetime)) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).rstrip(b"=").decode()


def _typed(raw: Any, kind: type) -> Any:
    if kind is datetime and isinstance(raw, str):
        value = datetime.fromisoformat(raw)
        if value.tzinfo is None:
            raise ValueError("a cursor's times carry their zone")
        return value.astimezone(UTC)  # OverflowError at the ends of time: refused below
    if kind is date and isinstance(raw, str):
        return date.fromisoformat(raw)
    if kind is int and type(raw) is int and -INT64 <= raw < INT64:
        return raw
    if kind is str and isinstance(raw, str) and not NOT_TEXT.search(raw):
        return raw
    raise ValueError(f"{raw!r} is not a {kind.__name__}")


def decode(cursor: str, keys: Sequence[Key]) -> list[Any]:
    """The sort key a cursor carries; a cursor this list did not give out is a 400."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(keys):
            raise ValueError("not this list's key")
        return [_typed(v, k.kind) for v, k in zip(values, keys)]
    except (ValueError, OverflowError):  # binascii.Error, JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadParameter("cursor", "invalid_cursor") from None


def after(keys: Sequence[Key], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows past ``values`` in the keys' order: k1 beyond v1, or k1 = v1 and k2 beyond v2, …"""
    return or_(*(and_(*(k.column == v for k, v in zip(keys[:i], values[:i])), keys[i].beyond(values[i]))
                 for i in range(len(keys))))


def page(session: Session, stmt: Select[*tuple[Any, ...]], keys: Sequence[Key],
         render: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """One page of ``stmt`` (unordered; the keys order it), each row given to ``render`` as its columns."""
    limit = integer("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    cursor = request.args.get("cursor")
    stmt = stmt.add_columns(*(k.column for k in keys)).order_by(*(k.ordered() for k in keys))
    if cursor:
        stmt = stmt.where(after(keys, decode(cursor, keys)))
    rows = session.execute(stmt.limit(limit + 1)).all()
    width = len(keys)
    items = [render(*row[:-width]) for row in rows[:limit]]
    last = rows[limit - 1][-width:] if len(rows) > limit else None
    return {"items": items, "next_cursor": encode(list(last)) if last is not None else None}
