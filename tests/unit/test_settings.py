"""One settings module: defaults < config file < environment < explicit overrides."""
from __future__ import annotations

from pathlib import Path

import pytest

import settings


def test_defaults_are_the_embedded_platform() -> None:
    cfg = settings.load(environ={})
    assert cfg.database_url.startswith("sqlite:///") and cfg.database_url.endswith("data/minsheng.db")
    assert cfg.embedded_redis
    assert (cfg.host, cfg.port, cfg.timezone) == ("127.0.0.1", 8050, "Asia/Shanghai")
    assert cfg.tz.key == "Asia/Shanghai"


def test_config_file_then_environment_then_overrides(tmp_path: Path) -> None:
    config = tmp_path / "minsheng.yaml"
    config.write_text("port: 9000\nredis_url: redis://cfg:6379/0\nrelay_poll_seconds: 0.5\n", encoding="utf-8")
    env = {"MINSHENG_CONFIG": str(config), "MINSHENG_PORT": "9100", "DATABASE_URL": "postgresql://x/y"}
    cfg = settings.load(environ=env)
    assert cfg.port == 9100  # environment beats the file
    assert cfg.redis_url == "redis://cfg:6379/0" and not cfg.embedded_redis
    assert cfg.relay_poll_seconds == 0.5
    assert cfg.database_url == "postgresql://x/y"
    assert settings.load(environ=env, port=1234).port == 1234


def test_unknown_setting_in_the_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("prot: 9000\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown settings.*prot"):
        settings.load(environ={"MINSHENG_CONFIG": str(config)})
