"""Who may do what, on which tickets (enforced in the domain, not only in screens).

Scope follows the three-level structure: a user sees the tickets of their
unit's subtree (the city bureau sees all); a handler acts only on tickets of
their own unit. The platform office and the city's admins act anywhere.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from tickets.errors import NotAllowed
from tickets.models import Unit, User
# The roles' words live with the domain's other word lists (layouts read them without the models).
from tickets.vocabulary import ROLES, ROLES_EN  # noqa: F401

# step -> roles allowed to take it (the system actor may take every step).
STEP_ROLES: dict[str, frozenset[str]] = {
    "dispatch": frozenset({"admin", "dispatcher", "handler"}),  # handler: a level-2 unit passing down
    "return": frozenset({"admin", "handler"}),
    "accept": frozenset({"admin", "handler"}),
    "contact": frozenset({"admin", "handler"}),
    "report": frozenset({"admin", "handler"}),
    "approve": frozenset({"admin", "dispatcher"}),
    "send_back": frozenset({"admin", "dispatcher"}),
    "reply": frozenset({"admin", "dispatcher"}),
    "request_extension": frozenset({"admin", "handler"}),
    "decide_extension": frozenset({"admin"}),
    "merge": frozenset({"admin", "dispatcher"}),
    "unmerge": frozenset({"admin", "dispatcher"}),
    "decide_suggestion": frozenset({"admin", "dispatcher"}),  # a likely duplicate: merge it, or not
    "record_follow_up": frozenset({"admin", "dispatcher"}),
    "redo": frozenset(),  # only the system, after an unsatisfied follow-up
    "close": frozenset({"admin", "supervisor"}),  # by hand: level-3 findings; normally the system
    "supervise": frozenset({"admin", "supervisor", "duty_officer", "leader"}),
    "acknowledge_breach": frozenset({"admin", "supervisor", "duty_officer", "leader"}),  # the duty console
    "answer_order": frozenset({"admin", "leader", "handler"}),  # the unit answers its 督办单
    "acknowledge_alert": frozenset({"admin", "supervisor", "duty_officer", "leader", "dispatcher"}),
    # A citizen's name and phone: the handling unit's people and the platform office (tickets/personal.py).
    "reveal": frozenset({"admin", "dispatcher", "handler", "leader"}),
    "read_reveals": frozenset({"admin", "supervisor", "leader"}),  # who looked (the audit)
    "remind": frozenset({"admin", "supervisor", "leader", "duty_officer"}),  # the duty officer passes on instructions
    "make_bulletin": frozenset({"admin", "leader"}),
    "rehome": frozenset({"admin"}),  # an open ticket off a unit being retired (tickets/units.py)  # 每周通报: freeze a week, or re-issue it corrected
}
# Steps a handler may take only on tickets of their own unit.
OWN_UNIT_STEPS = frozenset({"return", "accept", "contact", "report", "request_extension", "dispatch", "answer_order"})


@dataclass(frozen=True)
class Actor:
    """Who takes a step: a user with their scope, or the platform itself."""

    name: str
    role: str
    user_id: int | None = None
    unit_id: int | None = None
    visible_unit_ids: frozenset[int] | None = None  # None: every unit
    extra: dict[str, str] = field(default_factory=dict)
    office: bool = False  # of the platform office (民生警务平台办公室): it sees a citizen's details

    @property
    def is_system(self) -> bool:
        return self.role == "system"

    def sees_unit(self, unit_id: int | None) -> bool:
        return self.visible_unit_ids is None or (unit_id is not None and unit_id in self.visible_unit_ids)


SYSTEM = Actor(name="system", role="system")


def scope_unit_code(actor: Actor) -> str | None:
    """The code of the unit whose subtree is all ``actor`` may see (``extra["unit_code"]``, set
    by whoever made the actor); None for the whole city. A live screen of such an actor is that
    unit's branch wall: its snapshot, its room."""
    if actor.visible_unit_ids is None:
        return None
    return actor.extra.get("unit_code") or None


def subtree_of(parent_pairs: Iterable[tuple[int, int | None]], unit_id: int) -> set[int]:
    """The unit and every unit below it, from (unit_id, parent_id) pairs."""
    children: dict[int | None, list[int]] = {}
    for uid, parent in parent_pairs:
        children.setdefault(parent, []).append(uid)
    found, todo = {unit_id}, [unit_id]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def subtree_ids(session: Session, unit_id: int) -> set[int]:
    """The unit and every unit below it."""
    return subtree_of(session.execute(select(Unit.id, Unit.parent_id)).all(), unit_id)


def city_wide(user: User, unit: Unit | None) -> bool:
    """The city level, the platform office (the city's own office, level 2 in the
    tree), the city's admins, and supervisors in a city department (督察/法制/信访
    divisions) look at every unit's tickets; everyone else sees their subtree."""
    if unit is None or unit.level == 1 or unit.kind == "platform_office" or user.role == "admin":
        return True
    return user.role == "supervisor" and unit.kind == "division"


def actor_for(session: Session, user: User) -> Actor:
    unit = session.get(Unit, user.unit_id)
    visible = None if city_wide(user, unit) else frozenset(subtree_ids(session, user.unit_id))
    return Actor(name=user.username, role=user.role, user_id=user.id, unit_id=user.unit_id, visible_unit_ids=visible,
                 office=unit is not None and unit.kind == "platform_office")


def check(actor: Actor, step: str, ticket_unit_id: int | None) -> None:
    """Raise :class:`NotAllowed` with the reason unless ``actor`` may take ``step`` here."""
    if actor.is_system:
        return
    if actor.role not in STEP_ROLES.get(step, frozenset()):
        raise NotAllowed("role_may_not", user=actor.name, role=actor.role, step=step)
    if not actor.sees_unit(ticket_unit_id):
        raise NotAllowed("step_outside_scope", user=actor.name, step=step)
    if actor.role == "handler" and step in OWN_UNIT_STEPS and ticket_unit_id != actor.unit_id:
        raise NotAllowed("own_unit_only", user=actor.name, step=step)
