"""A small in-transaction message bus (as in cosmicpython): domain events → handlers.

``record_event`` publishes every event here after writing it; handlers run in
the same transaction, so a follow-up SMS, a supervision order or a
notification commits together with the step that caused it, or not at all.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

Handler = Callable[..., None]
BatchHandler = Callable[[Any, list[tuple[Any, Any]]], None]
_handlers: dict[str, list[Handler]] = {}
_batch_handlers: dict[str, list[BatchHandler]] = {}
# Modules whose handlers every process needs, whoever publishes first: imported
# at the first publish (not at import time, which would be circular).
HANDLER_MODULES = ("tickets.followup", "tickets.supervision", "feeds.connectors")
_loaded = False


def load_handlers() -> None:
    global _loaded
    if not _loaded:
        for name in HANDLER_MODULES:
            importlib.import_module(name)
        _loaded = True


def on(*kinds: str) -> Callable[[Handler], Handler]:
    """Register the decorated function for events of these kinds."""

    def register(handler: Handler) -> Handler:
        for kind in kinds:
            if handler not in _handlers.setdefault(kind, []):
                _handlers[kind].append(handler)
        return handler

    return register


def on_many(*kinds: str) -> Callable[[BatchHandler], BatchHandler]:
    """Register the decorated function for events of these kinds, given as one list of
    (ticket, event) pairs per batch (``publish_many``); ``publish`` gives it a list of one."""

    def register(handler: BatchHandler) -> BatchHandler:
        for kind in kinds:
            if handler not in _batch_handlers.setdefault(kind, []):
                _batch_handlers[kind].append(handler)
        return handler

    return register


def handlers_for(kind: str) -> list[Any]:
    if not _loaded:
        load_handlers()
    return [*_handlers.get(kind, []), *_batch_handlers.get(kind, [])]


def publish(session: Any, ticket: Any, event: Any) -> None:
    publish_many(session, [(ticket, event)])


def publish_many(session: Any, pairs: list[tuple[Any, Any]]) -> None:
    """Events written together (a bulk intake): each handler in turn, a batch handler once per kind."""
    if not _loaded:
        load_handlers()
    for ticket, event in pairs:
        for handler in list(_handlers.get(event.kind, [])):
            handler(session, ticket, event)
    kinds: dict[str, list[tuple[Any, Any]]] = {}
    for ticket, event in pairs:
        kinds.setdefault(event.kind, []).append((ticket, event))
    for kind, of_kind in kinds.items():
        for batch_handler in list(_batch_handlers.get(kind, [])):
            batch_handler(session, of_kind)
