"""The feeds section of /admin: each 12345 source's and Open311 client's keys (never a secret),
the records each took in and refused over the last day, and the day's dead letters with their
reasons."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, literal_column, or_, select
from sqlalchemy.orm import Session

from tickets.feedkeys import HOTLINE, OPEN311
from tickets.models import DeadLetter, FeedKey, IntakeRecord

PUSH_ENDPOINT = "/api/v1/intake/hotline"  # the default source's; another's is PUSH_ENDPOINT/<name>
OPEN311_CHANNEL = "open311"
DAY = timedelta(days=1)
DEAD_LETTERS_SHOWN = 50


def _keys(session: Session, channel: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for k in session.scalars(select(FeedKey).where(FeedKey.channel == channel).order_by(FeedKey.id.desc())):
        out.setdefault(k.source, []).append({
            "id": k.id, "created_at": k.created_at, "created_by": k.created_by, "valid_until": k.valid_until,
            "revoked_at": k.revoked_at, "last_seen_at": k.last_seen_at, "seeded": k.seeded})
    return out


def _letters_of(name: str, default: str) -> Any:
    """A 12345 source's dead letters: by its endpoint, or named in a refusal nobody vouched for."""
    mine = or_(DeadLetter.source.contains(f"{PUSH_ENDPOINT}/{name}"), DeadLetter.source.contains(f"({name})"))
    if name == default:
        mine = or_(mine, and_(DeadLetter.source.like(f"{PUSH_ENDPOINT}%"),
                              ~DeadLetter.source.like(f"{PUSH_ENDPOINT}/%"), ~DeadLetter.source.contains("(")))
    return mine


def hotline(session: Session, sources: Sequence[Mapping[str, Any]], default: str, now: datetime) -> list[dict[str, Any]]:
    """``sources``: name, label, channel, id_prefix, has_file_secret (a file or settings secret)."""
    keys = _keys(session, HOTLINE)
    since = now - DAY
    prefixes = [s["id_prefix"] for s in sources if s["id_prefix"]]
    out = []
    for s in sources:
        taken = and_(IntakeRecord.channel == s["channel"], IntakeRecord.received_at >= since)
        if s["id_prefix"]:
            taken = and_(taken, IntakeRecord.external_id.startswith(s["id_prefix"]))
        else:  # no prefix: every record of the channel but the prefixed sources'
            taken = and_(taken, *[~IntakeRecord.external_id.startswith(p) for p in prefixes])
        accepted = session.scalar(select(func.count()).select_from(IntakeRecord).where(taken))
        refused = session.scalar(select(func.count()).select_from(DeadLetter).where(
            DeadLetter.channel == s["channel"], DeadLetter.received_at >= since, _letters_of(s["name"], default)))
        out.append({**s, "keys": keys.get(s["name"], []), "accepted": int(accepted or 0),
                    "refused": int(refused or 0)})
    return out


def open311(session: Session, seeded: Sequence[str], now: datetime) -> list[dict[str, Any]]:
    """Each Open311 client (a key label): its keys (or the settings' hash), the day's counts."""
    keys = _keys(session, OPEN311)
    since = now - DAY
    counts: dict[str | None, int] = dict(session.execute(
        select(IntakeRecord.payload["api_key"].as_string(), func.count())
        .where(IntakeRecord.channel == OPEN311_CHANNEL, IntakeRecord.received_at >= since)
        .group_by(literal_column("1"))).tuples().all())  # by position: PostgreSQL sees two parameters
    labels = sorted(set(keys) | set(seeded))
    return [{"name": label, "keys": keys.get(label, []), "has_file_secret": label in seeded,
             "accepted": int(counts.get(label, 0) or 0)} for label in labels]


def open311_refused(session: Session, now: datetime) -> int:
    return int(session.scalar(select(func.count()).select_from(DeadLetter).where(
        DeadLetter.channel == OPEN311_CHANNEL, DeadLetter.received_at >= now - DAY)) or 0)


def dead_letters(session: Session, channels: Sequence[str], now: datetime) -> list[dict[str, Any]]:
    """The feeds' dead letters of the last day, newest first, with their reasons (never the body)."""
    rows = session.scalars(select(DeadLetter).where(DeadLetter.channel.in_(list(channels)),
                                                    DeadLetter.received_at >= now - DAY)
                           .order_by(DeadLetter.id.desc()).limit(DEAD_LETTERS_SHOWN))
    return [{"id": d.id, "channel": d.channel, "source": d.source, "received_at": d.received_at,
             "external_id": d.external_id, "status": d.status,
             "reasons": [f"{e.get('field', '')}: {e.get('message', '')}" for e in (d.errors or [])]} for d in rows]


def summary(session: Session, now: datetime) -> dict[str, Any]:
    live = session.scalar(select(func.count()).select_from(FeedKey).where(
        FeedKey.revoked_at.is_(None), or_(FeedKey.valid_until.is_(None), FeedKey.valid_until > now)))
    refused = session.scalar(select(func.count()).select_from(DeadLetter).where(DeadLetter.received_at >= now - DAY))
    return {"keys": int(live or 0), "dead_letters": int(refused or 0)}
