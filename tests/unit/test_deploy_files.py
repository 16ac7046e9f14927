"""deploy/'s files against the code they configure: every variable of the environment file is
a setting's (settings.py), the YAML example loads, the systemd units verify, and the commands
they and docs/DEPLOY.md run are the command line's."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import settings as settings_module
from tests.helpers import ROOT

DEPLOY = ROOT / "deploy"
# Read outside settings.py's table: the config file's name, and the release's (dashboard/build.py).
OTHER_VARIABLES = {"MINSHENG_CONFIG", "MINSHENG_BUILD"}


def _assignments(text: str) -> dict[str, str]:
    """NAME=value lines, commented-out ones included (they are offered as choices)."""
    return {m.group(1): m.group(2) for m in re.finditer(r"^#?([A-Z][A-Z0-9_]*)=(.*)$", text, re.MULTILINE)}


def test_every_variable_of_the_environment_file_is_a_setting() -> None:
    names = _assignments((DEPLOY / "minsheng.env.example").read_text(encoding="utf-8"))
    known = set(settings_module._ENV.values()) | OTHER_VARIABLES
    assert set(names) <= known, sorted(set(names) - known)
    for required in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "MINSHENG_SECURE_COOKIES", "MINSHENG_PROXY_HOPS",
                     "MINSHENG_DEMO_ACCOUNTS_FILE", "MINSHENG_OPEN311_API_KEYS"):
        assert required in names


def test_the_environment_file_loads_once_its_placeholders_are_filled(tmp_path: Path) -> None:
    text = (DEPLOY / "minsheng.env.example").read_text(encoding="utf-8")
    values = {k: v for k, v in re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", text, re.MULTILINE)}
    yaml_file = tmp_path / "minsheng.yaml"
    shutil.copy(DEPLOY / "minsheng.yaml.example", yaml_file)
    values["MINSHENG_CONFIG"] = str(yaml_file)
    values = {k: re.sub(r"<[^>]*>", "x", v) for k, v in values.items()}
    cfg = settings_module.load(environ=values)
    assert (cfg.secure_cookies, cfg.proxy_hops, cfg.demo_accounts_file) == (True, 1, "none")
    assert cfg.redis_url.startswith("redis://") and cfg.database_url.startswith("postgresql+psycopg://")
    assert cfg.intake_max_body_bytes == settings_module.Settings().intake_max_body_bytes
    assert (cfg.db_pool_size, cfg.db_pool_overflow) == (10, 20)


def test_the_nginx_body_limit_is_the_apps() -> None:
    limit = settings_module.Settings().intake_max_body_bytes
    assert f"client_max_body_size {limit};" in (DEPLOY / "nginx" / "minsheng.conf").read_text(encoding="utf-8")
    assert f"intake_max_body_bytes: {limit}" in (DEPLOY / "minsheng.yaml.example").read_text(encoding="utf-8")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_the_systemd_units_verify(tmp_path: Path) -> None:
    for unit in DEPLOY.glob("minsheng-*.*"):
        text = unit.read_text(encoding="utf-8")
        text = text.replace("/opt/minsheng/.venv/bin/python", sys.executable).replace("/opt/minsheng", str(ROOT))
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
    units = sorted(str(p) for p in tmp_path.iterdir())
    done = subprocess.run(["systemd-analyze", "verify", *units], check=False, capture_output=True, text=True, timeout=60)
    problems = [line for line in (done.stdout + done.stderr).splitlines() if "minsheng" in line]
    assert not problems, problems


@pytest.mark.parametrize("unit, command", [("minsheng-web.service", ["serve", "--access-log", "-"]),
                                           ("minsheng-worker.service", ["worker"])])
def test_the_units_run_commands_the_command_line_has(unit: str, command: list[str]) -> None:
    text = (DEPLOY / unit).read_text(encoding="utf-8")
    assert f"ExecStart=/opt/minsheng/.venv/bin/python app.py {' '.join(command)}\n" in text
    done = subprocess.run([sys.executable, "app.py", command[0], "--help"], cwd=ROOT, check=False, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0
    for option in command[1:]:
        if option.startswith("--"):
            assert option in done.stdout


def test_minsheng_app_runs_commands_with_the_environment_files_settings(tmp_path: Path) -> None:
    """deploy/minsheng-app: the values reach app.py unchanged (a password with shell characters),
    comments and blank lines are skipped. Here the checkout stands for /opt/minsheng and the
    test's own account for the platform's."""
    import getpass
    import os

    venv = tmp_path / "home" / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n', encoding="utf-8")
    (venv / "python").chmod(0o755)
    home = tmp_path / "home"
    for name in ("app.py", "settings.py"):
        (home / name).symlink_to(ROOT / name)
    for name in ("dashboard", "tickets", "feeds", "geo", "layouts", "callbacks", "migrations", "examples", "alembic.ini"):
        (home / name).symlink_to(ROOT / name)
    db = tmp_path / "it's $HOME & `x`.db"
    env_file = tmp_path / "minsheng.env"
    env_file.write_text(f"# comment\n\nDATABASE_URL=sqlite:///{db}\nMINSHENG_DEMO_ACCOUNTS_FILE=\"none\"\n",
                        encoding="utf-8")
    env = dict(os.environ, MINSHENG_ENV_FILE=str(env_file), MINSHENG_HOME=str(home),
               MINSHENG_ACCOUNT=getpass.getuser())
    for args in (["db", "upgrade"], ["user", "list"]):
        done = subprocess.run([str(DEPLOY / "minsheng-app"), *args], env=env, check=False, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
    assert db.exists()
