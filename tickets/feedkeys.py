"""Feed keys (接入密钥): what a 12345 source signs its pushes with and what an Open311 client
sends as its api_key, kept in ``feed_keys`` and rotated with an overlap.

How each is stored:

- a 12345 source's shared **secret** is kept as itself: an HMAC-SHA256 signature is checked by
  computing it again with the secret, so a hash of it would be useless. It is a random 256-bit
  value (43 URL-safe characters), stored in the ``secret`` column, read only by the platform's
  database role, shown once to the admin who made it and never in a list, a log line, an answer
  or the audit log (which names the key's id only). Before: the same value sat in the source's
  YAML file or the environment, in plain text too.
- an **Open311 api_key** is only compared, so only its SHA-256 is kept (as the settings did);
  the key itself is shown once.

A source without any row uses its file's secret (or ``settings.hotline_secret``), an Open311
label without any row its ``settings.open311_api_keys`` hash: the files and the settings seed the
table, so the demo and a platform nobody has administered keep working. The first change an
admin makes to such a source copies that key in (``seeded``) and changes the copy.

**Rotation with an overlap:** a new key is made and every key of the source still accepted gets
``valid_until = now + overlap``; until that instant both are accepted, from it only the new one.
A key is accepted at ``t`` when it is not revoked and ``t < valid_until`` (or it has none).
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from tickets import audit
from tickets.administration import require_admin
from tickets.errors import Conflict, Invalid, NotFound
from tickets.models import FeedKey, utcnow
from tickets.roles import Actor
from tickets.uow import write_if_free

HOTLINE, OPEN311 = "hotline", "open311"
CHANNELS = (HOTLINE, OPEN311)
MAX_OVERLAP = timedelta(days=30)
SEEN_RESOLUTION = timedelta(minutes=1)  # last_seen_at: "still in use?", not a log of every request
OPEN311_LABEL_LENGTH = 64


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def accepted(now: datetime) -> Any:
    """The rows a request at ``now`` may be vouched for by."""
    return FeedKey.revoked_at.is_(None) & or_(FeedKey.valid_until.is_(None), FeedKey.valid_until > now)


@dataclass(frozen=True)
class Secret:
    """A secret a 12345 push may be signed with: its row (None: the file's or the settings')."""

    key_id: int | None
    secret: str


def hotline_secrets(session: Session, source: str, fallback: str | None, now: datetime) -> list[Secret]:
    """The secrets source ``source`` may sign with at ``now``: its accepted rows, or (none ever
    made) ``fallback``, its file's or the settings' secret."""
    rows = session.execute(select(FeedKey.id, FeedKey.secret, FeedKey.revoked_at, FeedKey.valid_until)
                           .where(FeedKey.channel == HOTLINE, FeedKey.source == source)).all()
    if not rows:
        return [Secret(None, fallback)] if fallback else []
    return [Secret(i, s) for i, s, revoked, until in rows
            if s and revoked is None and (until is None or until > now)]


def open311_label(session: Session, given: str, seeded: dict[str, str], now: datetime) -> tuple[int | None, str] | None:
    """(row id or None, label) of an accepted Open311 key, else None. ``seeded``: the settings'
    {hash: label}, used for a label that has no row yet."""
    digest = key_hash(given)
    row = session.execute(select(FeedKey.id, FeedKey.source).where(FeedKey.channel == OPEN311,
                                                                    FeedKey.key_hash == digest, accepted(now))).first()
    if row is not None:
        return int(row[0]), str(row[1])
    label = seeded.get(digest)
    if label is None:
        return None
    administered = session.scalar(select(FeedKey.id).where(FeedKey.channel == OPEN311, FeedKey.source == label)
                                  .limit(1))
    return None if administered is not None else (None, label)


def seen(factory: sessionmaker[Any], key_id: int | None, now: datetime) -> None:
    """Stamp a key's last use, at most once per ``SEEN_RESOLUTION`` and never waiting for a writer."""
    if key_id is None:
        return
    write_if_free(factory, update(FeedKey).where(
        FeedKey.id == key_id, or_(FeedKey.last_seen_at.is_(None), FeedKey.last_seen_at < now - SEEN_RESOLUTION))
        .values(last_seen_at=now))


# ------------------------------------------------------------- the commands
def _new_value(channel: str) -> tuple[str, dict[str, Any]]:
    """A fresh key and the columns that keep it."""
    if channel == HOTLINE:
        value = secrets.token_urlsafe(32)
        return value, {"secret": value}
    value = f"o311_{secrets.token_urlsafe(24)}"
    return value, {"key_hash": key_hash(value)}


def _check(channel: str, source: str, known_sources: set[str]) -> str:
    if channel not in CHANNELS:
        raise Invalid("unknown_channel", channel=channel[:16], known=list(CHANNELS))
    source = source.strip()
    if channel == HOTLINE and source not in known_sources:
        raise Invalid("unknown_source", source=source[:64])
    if channel == OPEN311 and not (1 <= len(source) <= OPEN311_LABEL_LENGTH and source.replace("-", "").replace(
            "_", "").isalnum()):
        raise Invalid("key_label_invalid", label=source[:64], most=OPEN311_LABEL_LENGTH)
    return source


def _seed(session: Session, channel: str, source: str, seeds: dict[str, str | None], by: str) -> None:
    """Copy a file's or the settings' key of ``source`` into the table (``seeds``: source -> the
    hotline secret or the Open311 hash) before its first change, if it has none yet."""
    if session.scalar(select(FeedKey.id).where(FeedKey.channel == channel, FeedKey.source == source).limit(1)):
        return
    value = seeds.get(source)
    if not value:
        return
    columns = {"secret": value} if channel == HOTLINE else {"key_hash": value}
    session.add(FeedKey(channel=channel, source=source, seeded=True, created_by=by, **columns))
    session.flush()


def live_keys(session: Session, channel: str, source: str, now: datetime) -> list[FeedKey]:
    return list(session.scalars(select(FeedKey).where(FeedKey.channel == channel, FeedKey.source == source,
                                                      accepted(now)).order_by(FeedKey.id).with_for_update()))


def create_key(session: Session, actor: Actor, channel: str, source: str, known_sources: set[str],
               seeds: dict[str, str | None], now: datetime | None = None) -> tuple[FeedKey, str]:
    """A first key for a source or an Open311 client (one that has none accepted): (row, key shown once)."""
    require_admin(actor, "feed_key_create")
    now = now or utcnow()
    source = _check(channel, source, known_sources)
    _seed(session, channel, source, seeds, actor.name)
    if live_keys(session, channel, source, now):
        raise Conflict("feed_key_exists", source=source)
    value, columns = _new_value(channel)
    key = FeedKey(channel=channel, source=source, created_by=actor.name, created_at=now, **columns)
    session.add(key)
    session.flush()
    audit.record(session, actor.name, "feed_key_create", target=f"{channel}:{source}", details={"key": key.id})
    return key, value


def rotate_key(session: Session, actor: Actor, channel: str, source: str, overlap: timedelta, known_sources: set[str],
               seeds: dict[str, str | None], now: datetime | None = None) -> tuple[FeedKey, str]:
    """A new key; the source's keys accepted now stay accepted until ``now + overlap``, then only
    the new one is: (the new row, the key shown once)."""
    require_admin(actor, "feed_key_rotate")
    now = now or utcnow()
    source = _check(channel, source, known_sources)
    if not timedelta(0) <= overlap <= MAX_OVERLAP:
        raise Invalid("overlap_out_of_range", hours=overlap.total_seconds() / 3600,
                      most=MAX_OVERLAP.total_seconds() / 3600)
    _seed(session, channel, source, seeds, actor.name)
    ends = now + overlap
    old = live_keys(session, channel, source, now)
    for key in old:
        key.valid_until = ends if key.valid_until is None else min(key.valid_until, ends)
    value, columns = _new_value(channel)
    new = FeedKey(channel=channel, source=source, created_by=actor.name, created_at=now, **columns)
    session.add(new)
    session.flush()
    audit.record(session, actor.name, "feed_key_rotate", target=f"{channel}:{source}",
                 details={"key": new.id, "old_keys": [k.id for k in old], "overlap_ends": ends.isoformat()})
    return new, value


def revoke_key(session: Session, actor: Actor, key_id: int, now: datetime | None = None) -> FeedKey:
    """Refuse a key from now on (idempotent)."""
    require_admin(actor, "feed_key_revoke")
    key = session.get(FeedKey, key_id)
    if key is None:
        raise NotFound("unknown_feed_key", key=key_id)
    if key.revoked_at is None:
        key.revoked_at = now or utcnow()
        session.flush()
        audit.record(session, actor.name, "feed_key_revoke", target=f"{key.channel}:{key.source}",
                     details={"key": key.id})
    return key
