"""The platform office's commands (/admin's writes): who may make them.

Every admin change is a service-layer command that takes the acting :class:`Actor`, checks it
with :func:`require_admin`, makes the change and writes its audit row (``tickets.audit.record``)
in the caller's transaction. The commands live with their domain (``tickets.accounts``,
``tickets.units``, ``tickets.workcalendar``, ``tickets.sla``, ``tickets.feedkeys`` …); the API's
``/api/v1/admin/<section>/…`` calls one each (``dashboard/api/admin.py``).
"""
from __future__ import annotations

from tickets.errors import NotAllowed
from tickets.roles import Actor

ADMIN_ROLES = frozenset({"admin"})


def require_admin(actor: Actor, step: str) -> None:
    """Refuse (403 ``role_may_not``) unless ``actor`` is an admin or the platform itself."""
    if not actor.is_system and actor.role not in ADMIN_ROLES:
        raise NotAllowed("role_may_not", user=actor.name, role=actor.role, step=step)


def by(actor: Actor) -> str:
    """The audit log's actor for ``actor``."""
    return actor.name
