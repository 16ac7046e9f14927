"""A platform for the API tests: the Jinan bureau on a fresh SQLite file, one token per role."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import settings as settings_module
from dashboard import Platform, create_platform
from tickets import accounts
from tickets.uow import unit_of_work
from tickets.schema import upgrade
from tickets.units import load_bureau

ROOT = Path(__file__).resolve().parent.parent
# username: (role, unit)
PEOPLE = {
    "admin": ("admin", "JN-PTB"),
    "duty": ("duty_officer", "JN"),
    "viewer": ("viewer", "JN-LX"),
    "handler": ("handler", "JN-TQ-01"),
}


@dataclass
class ApiWorld:
    platform: Platform
    tokens: dict[str, str]  # username (or "kiosk") -> bearer token

    def headers(self, who: str | None, **extra: str) -> dict[str, str]:
        return {**({"Authorization": f"Bearer {self.tokens[who]}"} if who else {}), **extra}

    def get(self, path: str, who: str | None = "admin", **headers: str) -> Any:
        return self.platform.server.test_client().get(path, headers=self.headers(who, **headers))

    def post(self, path: str, who: str | None = "admin", **kwargs: Any) -> Any:
        return self.platform.server.test_client().post(path, headers=self.headers(who), **kwargs)


def api_world(tmp_path: Path, database_url: str | None = None, **settings: Any) -> Iterator[ApiWorld]:
    """Yields the world, then stops the platform (use as a fixture's body); SQLite unless given a database."""
    url = database_url or f"sqlite:///{tmp_path / 'api.db'}"
    upgrade(url)
    cfg = settings_module.load(environ={}, database_url=url, demo_accounts_file="none", **settings)
    platform = create_platform(cfg, live=False)
    tokens: dict[str, str] = {}
    with unit_of_work(platform.factory) as s:
        load_bureau(s, ROOT / "examples" / "jinan_bureau.yaml")
        for username, (role, unit) in PEOPLE.items():
            user = accounts.create_user(s, username, "测试民警", None, unit, role, "api-tests-2026")
            tokens[username] = accounts.issue_token(s, "api", user, label=f"{username} token")
        tokens["kiosk"] = accounts.issue_token(s, "kiosk", label="指挥中心 1 号屏")
    try:
        yield ApiWorld(platform, tokens)
    finally:
        platform.stop()
