"""Start-up wiring of the domain: configuration, the bus's handler table, the session factory.

Every entry point (the web platform, the command line, the benchmarks, the
tests) gets its sessions from :func:`session_factory` or a :class:`Domain`,
so every unit of work carries the same configuration and the same handlers.
The table below is the only place that says which handler hears which event.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import sessionmaker

from tickets import followup, results, sla, supervision
from tickets.bus import BatchHandler, Handler, MessageBus
from tickets.config import DomainConfig
from tickets.db import make_engine, tell_outbox_listeners
from tickets.uow import UnitOfWork, Wiring, unit_of_work

# event kind → handlers, in the order they run (each in the transaction that wrote the event)
HANDLERS: dict[str, tuple[Handler, ...]] = {
    "reply": (followup.on_reply, results.queue_results),  # ask the citizen; answer the sources
    "close": (followup.on_close,),  # no follow-up left waiting
    "merge": (followup.on_close,),
    "send_back": (supervision.on_send_back,),  # 审核退回: a supervision order
}
# event kind → handlers of a whole batch at once
BATCH_HANDLERS: dict[str, tuple[BatchHandler, ...]] = {
    "dispatched": (supervision.on_dispatched,),  # repeated complaints: a reminder letter
}


def message_bus() -> MessageBus:
    return MessageBus(HANDLERS, BATCH_HANDLERS)


@dataclass
class Domain:
    """What a process needs to change tickets: its configuration and its units of work."""

    settings: Any
    config: DomainConfig
    engine: Engine
    factory: sessionmaker[UnitOfWork]

    def uow(self) -> Any:
        """``with domain.uow() as uow:`` one transaction (``tickets.uow.unit_of_work``)."""
        return unit_of_work(self.factory)


def session_factory(engine: Engine | str, settings: Any = None, *, config: DomainConfig | None = None,
                    **overrides: Any) -> sessionmaker[UnitOfWork]:
    """Sessions of ``engine`` (or a database URL) that are units of work of the domain.

    ``settings`` default to ``settings.load()``; ``config`` replaces the configuration made
    from them, ``overrides`` replace parts of it (``follow_up=FollowUpRules(...)``)."""
    if settings is None:
        import settings as settings_module

        settings = settings_module.load()
    if isinstance(engine, str):
        pool = ({"pool_size": settings.db_pool_size, "max_overflow": settings.db_pool_overflow,
                 "pool_timeout": settings.db_pool_timeout_seconds} if engine.startswith("postgresql") else {})
        engine = make_engine(engine, lock_timeout_seconds=settings.db_lock_timeout_seconds,
                             statement_timeout_seconds=settings.db_statement_timeout_seconds, **pool)
    config = config or DomainConfig.from_settings(settings, **overrides)
    wiring = Wiring(config=config, bus=message_bus(), lock_timeout_seconds=settings.db_lock_timeout_seconds)
    factory = sessionmaker(engine, class_=UnitOfWork, expire_on_commit=False, wiring=wiring)
    tell_outbox_listeners(factory)

    @event.listens_for(factory, "after_commit")
    @event.listens_for(factory, "after_rollback")
    def _transaction_ended(uow: UnitOfWork) -> None:
        uow.release_locks()

    return factory


def bootstrap(settings: Any = None, **overrides: Any) -> Domain:
    """The domain for ``settings`` (default ``settings.load()``): the deadline policy file
    loaded (a bad file stops the start, naming the key), configuration, engine and sessions."""
    if settings is None:
        import settings as settings_module

        settings = settings_module.load()
    sla.use_policy_file(settings.sla_policy_file)
    factory = session_factory(settings.database_url, settings, **overrides)
    wiring: Wiring = factory.kw["wiring"]
    engine = factory.kw["bind"]
    return Domain(settings=settings, config=wiring.config, engine=engine, factory=factory)


__all__ = ["BATCH_HANDLERS", "HANDLERS", "Domain", "bootstrap", "message_bus", "session_factory"]
