"""Feed keys (/admin's feeds, tickets/feedkeys.py) through the API, on SQLite then PostgreSQL: a
12345 source's key rotated with an overlap accepts pushes signed with the old and the new key
until the overlap's end instant and only the new one from it; a revoked key is refused at once;
an Open311 client's key likewise; supervisors may not touch keys; each change is audited."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.helpers import HOTLINE_SECRET, push
from tickets import feedkeys
from tickets.models import AuditEntry, FeedKey

SOURCE = "hotline_12345"
ORDER = {"工单编号": "GS20260612000001", "派单时间": "2026-06-12 09:30:00", "来电人": "张先生",
         "联系电话": "13812345678", "事发地址": "济南市历下区泉城路", "诉求类型": "投诉", "标题": "烧烤店噪音扰民",
         "诉求内容": "楼下烧烤店每天营业到凌晨两点，噪音很大，请求处理。"}


def _admin(platform: Any, path: str, body: dict[str, Any], who: str = "admin") -> Any:
    return platform.server.test_client().post(path, json=body,
                                              headers={"Authorization": f"Bearer {platform.tokens[who]}"})


def _pushed(platform: Any, secret: str, n: int) -> int:
    order = {**ORDER, "工单编号": f"GS2026061200{n:04d}"}
    return int(push(platform.server.test_client(), order, secret=secret).status_code)


def _at(monkeypatch: pytest.MonkeyPatch, instant: datetime) -> None:
    """The platform's clock for the push's key check: the push endpoint reads ``utcnow``."""
    monkeypatch.setattr("dashboard.api.intake.utcnow", lambda: instant)


def test_a_rotated_12345_key_is_accepted_with_the_old_one_until_the_overlap_ends(
        small_bureau_platform_each_db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    platform = small_bureau_platform_each_db
    assert _pushed(platform, HOTLINE_SECRET, 1) == 201  # the settings' secret: the seed

    refused = _admin(platform, "/api/v1/admin/feeds/keys/rotate",
                     {"channel": "hotline", "source": SOURCE, "overlap_hours": 2}, who="inspector")
    assert refused.status_code == 403
    answer = _admin(platform, "/api/v1/admin/feeds/keys/rotate",
                    {"channel": "hotline", "source": SOURCE, "overlap_hours": 2})
    assert answer.status_code == 200, answer.get_json()
    new = answer.get_json()["once"]["value"]
    assert new != HOTLINE_SECRET and len(new) >= 40
    with platform.test_factory() as s:
        keys = {k.id: k for k in s.scalars(select(FeedKey).where(FeedKey.source == SOURCE))}
        old = next(k for k in keys.values() if k.seeded)
        assert old.secret == HOTLINE_SECRET and old.valid_until is not None
        ends = old.valid_until
        assert keys[answer.get_json()["id"]].secret == new  # HMAC needs the secret itself
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "feed_key_rotate")))
        assert [(r.actor, r.target) for r in rows] == [("admin", f"hotline:{SOURCE}")]
        assert new not in str(rows[0].details) and HOTLINE_SECRET not in str(rows[0].details)

    _at(monkeypatch, ends - timedelta(seconds=1))  # the overlap's last second: both keys
    assert _pushed(platform, HOTLINE_SECRET, 2) == 201
    assert _pushed(platform, new, 3) == 201
    _at(monkeypatch, ends)  # the overlap's end instant: the new key only
    assert _pushed(platform, HOTLINE_SECRET, 4) == 401
    assert _pushed(platform, new, 5) == 201
    with platform.test_factory() as s:
        assert s.get(FeedKey, answer.get_json()["id"]).last_seen_at is not None

    revoked = _admin(platform, f"/api/v1/admin/feeds/keys/{answer.get_json()['id']}/revoke", {})
    assert revoked.status_code == 200
    assert _pushed(platform, new, 6) == 401  # no key left: every push refused


def test_an_open311_key_made_rotated_and_revoked(small_bureau_platform: Any) -> None:
    platform = small_bureau_platform
    made = _admin(platform, "/api/v1/admin/feeds/keys", {"channel": "open311", "source": "wechat"})
    assert made.status_code == 200, made.get_json()
    key = made.get_json()["once"]["value"]
    again = _admin(platform, "/api/v1/admin/feeds/keys", {"channel": "open311", "source": "wechat"})
    assert again.status_code == 409
    with platform.test_factory() as s:
        row = s.get(FeedKey, made.get_json()["id"])
        assert row.key_hash == feedkeys.key_hash(key) and row.secret is None  # only its hash is kept
        now = feedkeys.utcnow()
        assert feedkeys.open311_label(s, key, {}, now) == (row.id, "wechat")
    rotated = _admin(platform, "/api/v1/admin/feeds/keys/rotate",
                     {"channel": "open311", "source": "wechat", "overlap_hours": "0"})
    assert rotated.status_code == 200, rotated.get_json()
    with platform.test_factory() as s:
        now = feedkeys.utcnow() + timedelta(seconds=1)
        assert feedkeys.open311_label(s, key, {}, now) is None  # no overlap: the old key ended at once
        assert feedkeys.open311_label(s, rotated.get_json()["once"]["value"], {}, now) is not None
