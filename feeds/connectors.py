"""Results back to the source systems: the outbound connectors of the 12345 push (docs/INTAKE.md).

When a ticket is replied to, the domain queues a :class:`ConnectorDelivery` for
every work order behind it (``tickets/results.py``: merged ones too, every
channel that reported it gets its reply). :func:`deliver_pending` puts each
into its source's own field names (order number, handler id, handling unit id,
handling time, local, in the source's format, and the reply text) and sends it
outside any transaction, through the source's connector (``results.connector``
in its YAML):

- ``sandbox`` records the delivery (the row, and :attr:`SandboxConnector.sent`)
  and sends nothing: the default, for demos and tests;
- ``http`` POSTs the JSON to ``results.url``, signed like the inbound push
  (``X-Timestamp`` + ``X-Signature: sha256=...`` with the source's secret);
  any 2xx is delivered.

A failed attempt is retried with exponential backoff (``connector_backoff_seconds``
doubling, at most an hour apart) up to ``connector_max_attempts``, then the
row is ``failed`` and stays for an operator. The leader's housekeeping loop
calls :func:`deliver_pending` (wired in ``dashboard/__init__.py``). Delivery is
at-least-once: a crash between sending and recording resends; the order
number lets the source drop the repeat.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from tickets.models import ConnectorDelivery
from tickets.uow import UnitOfWork, unit_of_work

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 3600.0


class ConnectorError(Exception):
    """The source system did not take the result."""


class Connector(Protocol):
    name: str

    def send(self, payload: dict[str, Any]) -> None: ...


class SandboxConnector:
    """Records what would have been sent; nothing leaves the machine."""

    name = "sandbox"

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def send(self, payload: dict[str, Any]) -> None:
        with self._lock:
            self.sent.append(payload)
            del self.sent[:-1000]


class HttpConnector:
    """POST the result as JSON, signed with the source's shared secret; 2xx is delivered."""

    name = "http"

    def __init__(self, url: str, secret: str | None = None, timeout: float = 5.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"results.url {url!r} must be an http(s) URL")
        self.url, self.secret, self.timeout = url, secret, timeout

    def send(self, payload: dict[str, Any]) -> None:
        from feeds.hotline import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.secret:
            stamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = stamp
            headers[SIGNATURE_HEADER] = sign(self.secret, stamp, body)
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read(65536)
        except urllib.error.HTTPError as exc:
            raise ConnectorError(f"{self.url} answered HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise ConnectorError(f"{self.url} unreachable: {exc}") from exc


# ------------------------------------------------------------- configuration
_overrides: dict[str, Connector] = {}
_built: dict[tuple[str, str, str], Connector] = {}
_lock = threading.Lock()


def use(source: str, connector: Connector | None) -> None:
    """Send ``source``'s results through ``connector`` (tests, embedding); None restores the file's."""
    with _lock:
        if connector is None:
            _overrides.pop(source, None)
        else:
            _overrides[source] = connector


def sources(settings: Any) -> dict[str, Any]:
    from feeds.hotline import load_sources

    return load_sources(settings.hotline_sources_dir)


def connector_for(source_name: str, settings: Any) -> Connector:
    with _lock:
        if source_name in _overrides:
            return _overrides[source_name]
    source = sources(settings).get(source_name)
    if source is None:
        raise ConnectorError(f"no source {source_name!r} in {settings.hotline_sources_dir}")
    kind = str(source.results.get("connector", "sandbox")).lower()
    url = str(source.results.get("url") or "")
    key = (source_name, kind, url)
    with _lock:
        found = _built.get(key)
        if found is None:
            if kind == "sandbox":
                found = SandboxConnector()
            elif kind == "http":
                found = HttpConnector(url, source.secret or settings.hotline_secret)
            else:
                raise ConnectorError(f"source {source_name}: results.connector {kind!r}: sandbox or http")
            _built[key] = found
    return found


# ---------------------------------------------------------------- formatting
def source_result(source: Any, external_id: str, result: dict[str, Any]) -> dict[str, Any]:
    """The domain's result of one work order (``tickets.results``) in the source's own field
    names and time format: order number, handler id, handling unit, handling time, reply."""
    fmt = str(source.results.get("time_format") or "%Y-%m-%d %H:%M:%S")
    handled_at = datetime.fromisoformat(result["handled_at"]).astimezone(source.tz)
    return {
        source.result_field("order_no"): external_id.removeprefix(source.id_prefix),
        source.result_field("handler_id"): result["handler_id"],
        source.result_field("unit_id"): result["unit_code"],
        source.result_field("handled_at"): handled_at.strftime(fmt),
        source.result_field("reply"): result["reply"],
    }


# ---------------------------------------------------------------- delivering
def next_attempt_at(delivery: ConnectorDelivery, base_seconds: float) -> datetime:
    """created_at, then base·2^i seconds after each failed attempt i (capped at an hour)."""
    wait = sum(min(base_seconds * 2 ** i, MAX_BACKOFF_SECONDS) for i in range(delivery.attempts))
    return delivery.created_at + timedelta(seconds=wait)


def deliver_pending(factory: sessionmaker[UnitOfWork], now: datetime | None, settings: Any, *, limit: int = 200,
                    connector: Callable[[str, Any], Connector] = connector_for) -> dict[str, int]:
    """Send the deliveries that are due, each in its source's own form; record sent / retry /
    failed. Never raises per delivery."""
    now = now or datetime.now(UTC)
    base, max_attempts = settings.connector_backoff_seconds, settings.connector_max_attempts
    with factory() as session:
        pending = session.scalars(select(ConnectorDelivery).where(ConnectorDelivery.status == "pending")
                                  .order_by(ConnectorDelivery.id).limit(limit * 5)).all()
        due = [(d.id, d.connector, d.external_id, dict(d.payload)) for d in pending
               if next_attempt_at(d, base) <= now][:limit]
    known = sources(settings) if due else {}
    results: dict[int, str | None] = {}
    down: set[str] = set()
    for delivery_id, name, external_id, result in due:
        if name in down:  # one failure per source per round: it is probably down
            continue
        try:
            if name not in known:
                raise ConnectorError(f"no source {name!r} in {settings.hotline_sources_dir}")
            connector(name, settings).send(source_result(known[name], external_id, result))
            results[delivery_id] = None
        except Exception as exc:  # noqa: BLE001 - any failure is retried
            results[delivery_id] = f"{type(exc).__name__}: {exc}"[:1000]
            down.add(name)
            log.warning("result delivery %d to %s failed, will retry: %s", delivery_id, name, exc)
    counts = {"sent": 0, "retry": 0, "failed": 0}
    if results:
        with unit_of_work(factory) as session:
            for delivery_id, error in results.items():
                d = session.get(ConnectorDelivery, delivery_id)
                if d is None:
                    continue
                d.attempts = (d.attempts or 0) + 1
                if error is None:
                    d.status, d.sent_at, d.last_error = "sent", now, None
                    counts["sent"] += 1
                else:
                    d.last_error = error
                    if d.attempts >= max_attempts:
                        d.status = "failed"
                        counts["failed"] += 1
                    else:
                        counts["retry"] += 1
    return counts
