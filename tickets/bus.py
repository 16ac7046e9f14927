"""A small in-transaction message bus (as in cosmicpython): domain events → handlers.

``record_event`` publishes every event here after writing it; handlers run in
the same transaction, so a follow-up SMS, a supervision order or a
notification commits together with the step that caused it, or not at all.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

Handler = Callable[..., None]
_handlers: dict[str, list[Handler]] = {}
# Handlers that take a list of (ticket, event) at once: a bulk writer publishes a whole
# batch's events with one call (publish_many), and the handler reads the database once.
_batch_handlers: dict[str, list[Handler]] = {}
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


def _register(table: dict[str, list[Handler]], kinds: tuple[str, ...]) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for kind in kinds:
            if handler not in table.setdefault(kind, []):
                table[kind].append(handler)
        return handler

    return register


def on(*kinds: str) -> Callable[[Handler], Handler]:
    """Register the decorated ``handler(session, ticket, event)`` for events of these kinds."""
    return _register(_handlers, kinds)


def on_batch(*kinds: str) -> Callable[[Handler], Handler]:
    """Register the decorated ``handler(session, [(ticket, event), …])`` for events of these kinds."""
    return _register(_batch_handlers, kinds)


def publish(session: Any, ticket: Any, event: Any) -> None:
    publish_many(session, event.kind, [(ticket, event)])


def publish_many(session: Any, kind: str, items: Sequence[tuple[Any, Any]]) -> None:
    """Events of one ``kind``, in order. A ticket here may be a plain row of its columns
    (a bulk write): handlers read columns, and load the ORM ticket where they need more."""
    if not _loaded:
        load_handlers()
    if not items:
        return
    for handler in list(_batch_handlers.get(kind, [])):
        handler(session, list(items))
    for handler in list(_handlers.get(kind, [])):
        for ticket, event in items:
            handler(session, ticket, event)
