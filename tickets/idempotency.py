"""One change per idempotency key: a write repeated with the same key answers as the first did.

The API's writes take an ``Idempotency-Key``; the answer to the first request
with a key is kept in the same transaction as the change it made
(:func:`remember`), so either both are there or neither. A request that comes
again with the key gets that answer back (:func:`recall`) and changes nothing;
the same key with a different request is refused (:class:`Conflict`), since
the caller has mixed up two changes. Keys are the caller's own: two users'
keys never meet. Refused requests are not remembered: they changed nothing.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from tickets.errors import Conflict, Invalid
from tickets.models import IdempotencyKey
from tickets.uow import UnitOfWork

MAX_KEY_LENGTH = 128


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def fingerprint(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8") if isinstance(part, str) else part)
        digest.update(b"\x00")
    return digest.hexdigest()


def checked(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise Invalid("idempotency_key", most=MAX_KEY_LENGTH)
    return key


def recall(uow: UnitOfWork, owner: str, key: str, print_: str) -> Answer | None:
    """The answer kept for ``key`` of ``owner``, if any; the key with another request: Conflict."""
    kept = uow.scalar(select(IdempotencyKey).where(IdempotencyKey.user_key == owner,
                                                   IdempotencyKey.key == checked(key)))
    if kept is None:
        return None
    if kept.fingerprint != print_:
        raise Conflict("idempotency_key_reused", key=key)
    return Answer(kept.status, kept.response)


def remember(uow: UnitOfWork, owner: str, key: str, print_: str, answer: Answer, at: datetime) -> None:
    uow.add(IdempotencyKey(user_key=owner, key=checked(key), fingerprint=print_, status=answer.status,
                           response=answer.body, created_at=at))
