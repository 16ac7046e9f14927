"""/admin's feeds section: the keys of the 12345 sources and the Open311 clients.

    POST /api/v1/admin/feeds/keys                   a first key for a source or client (shown once)
    POST /api/v1/admin/feeds/keys/rotate            a new key; the old ones accepted for the overlap
    POST /api/v1/admin/feeds/keys/<id>/revoke       refuse a key from now on

Each calls one command of ``tickets.feedkeys`` (role check, change, audit row).
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from dashboard.api.admin import admin_post, once, said
from dashboard.api.base import platform
from dashboard.api.errors import MESSAGES, BadParameter
from dashboard.api.openapi import NUM, STR
from dashboard.api.steps import Body
from feeds import hotline
from feeds import open311 as o311
from layouts.i18n import N_
from tickets import feedkeys
from tickets.roles import Actor
from tickets.uow import UnitOfWork

MESSAGES.update({
    "unknown_channel": N_("'%(channel)s' is not a feed: %(known)s"),
    "key_label_invalid": N_("An Open311 client's name is 1 to %(most)s letters, digits, '-' or '_', not '%(label)s'"),
    "feed_key_exists": N_("%(source)s already has a key: rotate it instead"),
    "overlap_out_of_range": N_("The overlap is 0 to %(most)s hours, not %(hours)s"),
    "unknown_feed_key": N_("No feed key %(key)s"),
})
KEY_LABEL = {feedkeys.HOTLINE: N_("The new shared secret of %(source)s"),
             feedkeys.OPEN311: N_("The new api_key of %(source)s")}
CHANNEL = {**STR, "enum": list(feedkeys.CHANNELS)}
SOURCE = {**STR, "maxLength": 64, "description": "a 12345 source's name, or an Open311 client's name"}


def _known() -> tuple[set[str], dict[str, dict[str, str | None]]]:
    """The 12345 sources' names, and the keys the files and settings seed, by channel."""
    settings = platform().settings
    sources = hotline.load_sources(settings.hotline_sources_dir)
    seeds: dict[str, dict[str, str | None]] = {
        feedkeys.HOTLINE: {name: s.secret or settings.hotline_secret or None for name, s in sources.items()},
        feedkeys.OPEN311: {label: digest for digest, label in o311.parse_keys(settings.open311_api_keys).items()}}
    return set(sources), seeds


def _shown(key: Any, value: str) -> dict[str, Any]:
    return {"id": key.id, "channel": key.channel, "source": key.source,
            "once": once(said(KEY_LABEL[key.channel], source=key.source), value)}


@admin_post("feeds/keys", "A first key for a 12345 source or an Open311 client, shown once",
            {"channel": CHANNEL, "source": SOURCE}, ("channel", "source"), secret=True)
def create_key(uow: UnitOfWork, actor: Actor, body: Body) -> dict[str, Any]:
    channel = body.required_text("channel")
    known, seeds = _known()
    key, value = feedkeys.create_key(uow, actor, channel, body.required_text("source"), known, seeds.get(channel, {}))
    return _shown(key, value)


@admin_post("feeds/keys/rotate", "Rotate a source's key: a new one (shown once); the old one is accepted too "
            "until the overlap ends", {"channel": CHANNEL, "source": SOURCE,
                                       "overlap_hours": {**NUM, "minimum": 0, "maximum": 720}},
            ("channel", "source", "overlap_hours"), secret=True)
def rotate_key(uow: UnitOfWork, actor: Actor, body: Body) -> dict[str, Any]:
    channel = body.required_text("channel")
    raw = body.data.get("overlap_hours")
    hours = body.number("overlap_hours", 0, 720) if not isinstance(raw, str) else _hours(raw)
    known, seeds = _known()
    key, value = feedkeys.rotate_key(uow, actor, channel, body.required_text("source"), timedelta(hours=hours),
                                     known, seeds.get(channel, {}))
    return {**_shown(key, value), "overlap_hours": hours}


def _hours(raw: str) -> float:
    """A form sends text: '24', '0.5'."""
    try:
        value = float(raw)
    except ValueError:
        raise BadParameter("overlap_hours", "not_a_number") from None
    if not 0 <= value <= 720:
        raise BadParameter("overlap_hours", "out_of_range", min=0, max=720, value=raw[:20])
    return value


@admin_post("feeds/keys/<int:key_id>/revoke", "Refuse a feed key from now on", {})
def revoke_key(uow: UnitOfWork, actor: Actor, body: Body, key_id: int) -> dict[str, Any]:
    key = feedkeys.revoke_key(uow, actor, key_id)
    return {"id": key.id, "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None}
