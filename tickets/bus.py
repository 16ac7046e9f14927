"""The in-transaction message bus (as in cosmicpython): domain events → handlers.

The writer of timeline events (``tickets.events``) publishes every event it
writes on the unit of work's bus; handlers run in the same transaction, so a
follow-up SMS, a supervision order or a notification commits together with the
step that caused it, or not at all. Which handler hears which event is one
explicit table, built at start-up by ``tickets.bootstrap``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

# handler(uow, ticket, event): one event. A ticket here may be a plain row of its columns
# (a bulk write): handlers read columns, and load the ORM ticket where they need more.
Handler = Callable[[Any, Any, Any], object]
# handler(uow, [(ticket, event), …]): a whole batch's events of one kind, so the handler
# reads the database once for a pushed batch.
BatchHandler = Callable[[Any, list[tuple[Any, Any]]], object]


class MessageBus:
    def __init__(self, handlers: Mapping[str, Sequence[Handler]] | None = None,
                 batch_handlers: Mapping[str, Sequence[BatchHandler]] | None = None) -> None:
        self.handlers = {kind: tuple(hs) for kind, hs in (handlers or {}).items()}
        self.batch_handlers = {kind: tuple(hs) for kind, hs in (batch_handlers or {}).items()}

    def hears(self, kind: str) -> bool:
        return kind in self.handlers or kind in self.batch_handlers

    def publish(self, uow: Any, kind: str, items: Sequence[tuple[Any, Any]]) -> None:
        """Events of one ``kind``, in order: batch handlers first, then each event to the others."""
        if not items:
            return
        for batch_handler in self.batch_handlers.get(kind, ()):
            batch_handler(uow, list(items))
        for handler in self.handlers.get(kind, ()):
            for ticket, event in items:
                handler(uow, ticket, event)
