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
_handlers: dict[str, list[Handler]] = {}
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


def handlers_for(kind: str) -> list[Handler]:
    if not _loaded:
        load_handlers()
    return list(_handlers.get(kind, []))


def publish(session: Any, ticket: Any, event: Any) -> None:
    if not _loaded:
        load_handlers()
    for handler in list(_handlers.get(event.kind, [])):
        handler(session, ticket, event)
