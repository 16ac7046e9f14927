"""What the tests that follow docs/DEPLOY.md share (tests/integration/test_cluster.py,
test_deploy_guide.py): the settings file filled in, the systemd units read, a ticket through
Open311. No fixtures here (those are in tests/conftest.py)."""
from __future__ import annotations

import hashlib
import secrets
import shlex

import requests

from tests.helpers import OPEN311_KEY, ROOT

ENV_EXAMPLE = ROOT / "deploy" / "minsheng.env.example"


def env_values(text: str) -> dict[str, str]:
    """The NAME=value lines of a settings file (deploy/minsheng.env.example's form), as systemd reads them."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def filled_in(text: str, database_url: str, redis_url: str, config: str) -> dict[str, str]:
    """A settings file with every ``<…>`` placeholder replaced, as docs/DEPLOY.md (section 7) asks:
    a new secret each, the given addresses, the test's Open311 key (tests/helpers.OPEN311_KEY), an
    SMS gateway nobody answers. A placeholder the example gains and this does not fill fails here."""
    values = env_values(text)
    filled = {
        "SECRET_KEY": secrets.token_hex(32), "DATABASE_URL": database_url, "REDIS_URL": redis_url,
        "MINSHENG_OPEN311_API_KEYS": f"deploy-test={hashlib.sha256(OPEN311_KEY.encode()).hexdigest()}",
        "MINSHENG_HOTLINE_SECRET": secrets.token_hex(16), "MINSHENG_SMS_GATEWAY_URL": "http://127.0.0.1:9/send",
        "MINSHENG_SMS_GATEWAY_TOKEN": secrets.token_hex(8), "MINSHENG_SMS_INBOUND_SECRET": secrets.token_hex(16),
        "MINSHENG_CONFIG": config,
    }
    assert set(filled) <= set(values), f"{ENV_EXAMPLE} no longer sets {set(filled) - set(values)}"
    values.update(filled)
    assert not [k for k, v in values.items() if "<" in v], f"placeholders the test does not fill in: {values}"
    return values


def unit_settings(text: str) -> dict[str, list[str]]:
    """A systemd unit's settings (deploy/minsheng-*.service): each key's values, in order."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def unit_command(unit: str) -> list[str]:
    """The app.py arguments of a shipped unit's ExecStart (deploy/minsheng-*.service)."""
    settings = unit_settings((ROOT / "deploy" / unit).read_text(encoding="utf-8"))
    assert settings["EnvironmentFile"] == ["/etc/minsheng/minsheng.env"]
    start = shlex.split(settings["ExecStart"][0])
    assert start[:2] == ["/opt/minsheng/.venv/bin/python", "app.py"], start
    return start[2:]


def open311_ticket(base_url: str, n: int) -> str:
    """A noise report through Open311 (the test's key) at ``base_url``: its ticket number."""
    answer = requests.post(f"{base_url}/open311/v2/requests.json", data={
        "api_key": OPEN311_KEY, "jurisdiction_id": "police.jinan.gov.cn", "service_code": "noise",
        "lat": f"{36.650 + n * 0.002:.4f}", "long": f"{117.000 + n * 0.002:.4f}",
        "attribute[noise_source]": "construction",
        "description": f"第{n}号：夜间施工噪音扰民，持续到凌晨。", "phone": f"1390000{n:04d}",
    }, timeout=10, verify=False)
    assert answer.status_code == 201, answer.text
    return str(answer.json()[0]["service_request_id"])
