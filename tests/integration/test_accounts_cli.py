"""The account commands of app.py, run in-process, then used against the real Flask app:
create the first admin, make a token, call the API with it; kiosk URLs; revocation."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import app
import settings as settings_module
from dashboard import create_platform
from tickets.bootstrap import session_factory
from tickets.models import User
from tickets.roles import ROLES


@pytest.fixture
def cli_database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    for var in ("MINSHENG_CONFIG", "MINSHENG_DEMO_ACCOUNTS_FILE", "MINSHENG_HOST", "MINSHENG_PORT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DATABASE_URL", url)
    assert app.main(["db", "upgrade"]) == 0
    return url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = app.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_first_admin_then_token_then_the_api_knows_them(cli_database_url: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "demo", "load", "--no-accounts")[0] == 0
    code, out, err = run(capsys, "user", "create-admin", "--username", "wangjg", "--real-name", "王建国",
                         "--police-number", "100231", "--password", "first-admin-pass")
    assert code == 0, err
    code, out, err = run(capsys, "token", "create", "--user", "wangjg", "--label", "weekly bulletin script")
    assert code == 0, err
    token = out.strip()
    assert "\n" not in token and len(token) > 30, "prints the token and nothing else"

    platform = create_platform(settings_module.load(environ={}, database_url=cli_database_url), live=False)
    client = platform.server.test_client()
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert {k: me.get_json()[k] for k in ("name", "real_name", "role", "unit_code")} == {
        "name": "wangjg", "real_name": "王建国", "role": "admin", "unit_code": "JN-PTB"}

    code, out, _ = run(capsys, "token", "list")
    token_id = out.split()[0]
    assert code == 0 and "wangjg" in out and token not in out
    assert run(capsys, "token", "revoke", token_id)[0] == 0
    platform.server.extensions["minsheng.auth"].forget()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_create_admin_refuses_an_empty_password(cli_database_url: str, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    run(capsys, "demo", "load", "--no-accounts")
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "")
    code, _, err = run(capsys, "user", "create-admin", "--username", "wangjg", "--real-name", "王建国")
    assert code == 1 and "empty password" in err
    code, _, err = run(capsys, "user", "create", "--role", "handler", "--username", "chen", "--real-name", "陈志强",
                       "--unit", "JN-TQ-01", "--password", "short")
    assert code == 1 and "at least 8" in err
    code, _, err = run(capsys, "user", "create", "--role", "handler", "--username", "chen", "--real-name", "陈志强",
                       "--unit", "JN-NOPE", "--password", "long-enough-1")
    assert code == 1 and "unknown unit" in err
    with session_factory(cli_database_url)() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 0


def test_prompted_password_must_be_typed_twice_alike(cli_database_url: str, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    run(capsys, "demo", "load", "--no-accounts")
    answers = iter(["typed-once-well", "typed-twice-not"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    code, _, err = run(capsys, "user", "create-admin", "--username", "wangjg", "--real-name", "王建国")
    assert code == 1 and "differ" in err


def test_demo_load_gives_one_account_per_role_and_a_kiosk_url(cli_database_url: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(2):  # idempotent
        code, out, err = run(capsys, "demo", "load")
        assert code == 0, err
    assert "0 created" in out
    code, out, _ = run(capsys, "user", "list")
    assert code == 0 and {line.split()[-1] for line in out.splitlines()} == set(ROLES)

    code, out, _ = run(capsys, "token", "kiosk", "--label", "指挥中心 2 号屏")
    assert code == 0 and out.startswith("http://127.0.0.1:8050/wall?kiosk=")
    kiosk = out.strip().split("kiosk=", 1)[1]
    platform = create_platform(settings_module.load(environ={}, database_url=cli_database_url), live=False)
    client: Any = platform.server.test_client()
    assert client.get(f"/wall?kiosk={kiosk}").status_code == 200
    assert client.get("/api/v1/me").get_json()["role"] == "kiosk"
    assert app._demo_kiosk_url(settings_module.load()) == "http://127.0.0.1:8050/wall?kiosk=demo-wall-kiosk-token"


def test_run_refuses_an_open_host_with_the_development_secret(cli_database_url: str, capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    code, _, err = run(capsys, "run", "--host", "0.0.0.0")
    assert code == 2 and "SECRET_KEY" in err


def test_run_refuses_the_development_secret_on_loopback_too_unless_it_is_the_demo(
        cli_database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    """Behind a proxy the platform listens on 127.0.0.1: only the demo (its published accounts)
    runs without a SECRET_KEY, and then on a random key of its own, never the published one."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("MINSHENG_DEMO_ACCOUNTS_FILE", "none")
    code, _, err = run(capsys, "run")
    assert code == 2 and "SECRET_KEY" in err
    monkeypatch.setattr(app, "DEMO_SECRET_FILE", tmp_path / "data" / "demo_secret_key")
    first, again = app._demo_secret_key(), app._demo_secret_key()
    assert first == again and len(first) == 64 and first != settings_module.Settings.secret_key
    assert oct(app.DEMO_SECRET_FILE.stat().st_mode & 0o777) == "0o600"


def test_a_kiosk_token_for_a_branch_wall(cli_database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "demo", "load", "--no-accounts")[0] == 0
    code, out, _ = run(capsys, "token", "kiosk", "--label", "历下分局大屏", "--unit", "JN-LX")
    assert code == 0 and out.startswith("http://127.0.0.1:8050/wall?unit=JN-LX&kiosk=")
    kiosk = out.strip().split("kiosk=", 1)[1]
    platform = create_platform(settings_module.load(environ={}, database_url=cli_database_url), live=False)
    me = platform.server.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {kiosk}"}).get_json()
    assert (me["role"], me["scope"], me["unit_code"]) == ("kiosk", "subtree", "JN-LX")
    code, _, err = run(capsys, "token", "kiosk", "--unit", "JN-NOPE")
    assert code == 1 and "JN-NOPE" in err


def test_a_users_phone_for_sms_escalations(cli_database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``user create --phone`` and ``user set-phone``: kept as digits, listed masked, refused when not a number."""
    assert run(capsys, "demo", "load", "--no-accounts")[0] == 0
    code, out, err = run(capsys, "user", "create", "--username", "lc01_head", "--real-name", "吴建军",
                         "--role", "leader", "--unit", "JN-LC-01", "--password", "lc01-head-2026",
                         "--phone", "+86 139-0531-0001")
    assert code == 0, err
    with session_factory(cli_database_url)() as s:
        assert s.scalar(select(User.phone).where(User.username == "lc01_head")) == "13905310001"
    code, out, _ = run(capsys, "user", "list")
    line = next(line for line in out.splitlines() if "lc01_head" in line)
    assert "139****0001" in line and "13905310001" not in line and line.split()[-1] == "leader"
    code, _, err = run(capsys, "user", "set-phone", "lc01_head", "12")
    assert code == 1 and "7 to 15 digits" in err
    code, out, _ = run(capsys, "user", "set-phone", "lc01_head", "")
    assert code == 0 and "no SMS escalations" in out
    with session_factory(cli_database_url)() as s:
        assert s.scalar(select(User.phone).where(User.username == "lc01_head")) is None


def test_a_revocation_on_the_command_line_is_announced_to_the_web_processes(
        cli_database_url: str, redis_url: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``token revoke`` and ``user deactivate`` tell the running platform through Redis, as the
    admin screens do: its web processes drop the grant at once, not at their next sweep."""
    import redis

    from dashboard.auth import REVOKED_CHANNEL

    run(capsys, "demo", "load", "--no-accounts")
    run(capsys, "user", "create-admin", "--username", "wangjg", "--real-name", "王建国",
        "--police-number", "100231", "--password", "first-admin-pass")
    code, token, _ = run(capsys, "token", "create", "--user", "wangjg", "--label", "script")
    monkeypatch.setenv("REDIS_URL", redis_url)
    listener = redis.Redis.from_url(redis_url, decode_responses=True).pubsub(ignore_subscribe_messages=True)
    listener.subscribe(REVOKED_CHANNEL)
    listener.get_message(timeout=1.0)  # the subscription's confirmation

    def heard() -> int:
        n = 0
        while listener.get_message(timeout=0.5) is not None:
            n += 1
        return n

    token_id = run(capsys, "token", "list")[1].split()[0]
    assert run(capsys, "token", "list")[0] == 0 and heard() == 0  # reading announces nothing
    assert run(capsys, "token", "revoke", token_id)[0] == 0
    assert heard() == 1
    assert run(capsys, "user", "deactivate", "wangjg")[0] == 0
    assert heard() == 1
