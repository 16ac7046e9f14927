"""docs/DEPLOY.md followed from its first line to a working platform behind nginx (issue 18), on
this one machine, with the commands read from the guide itself: its ```sh blocks, section by
section, in order. A command changed or broken in the guide changes or breaks this test.

The release is what `git archive` makes of the checkout (``git stash create``: the committed
code plus uncommitted changes to tracked files; new untracked files are not in it). Section 1's
``pip download`` fetches every wheel from PyPI into a cache keyed by pyproject.toml's hash
(~/.cache/minsheng-test/); later runs re-check the cached wheelhouse offline (``--no-index``)
instead of asking PyPI again. Section 3 then builds the platform's environment from the
wheelhouse with ``--no-index``, as an offline server does: a missing wheel fails here.

How a block is read (DEPLOY.md's "What the test suite checks of this guide" says the same):
- Lines starting with ``#`` are comments and are not run (a ``#`` after a command starts its
  comment; a comment that is a JSON value or names an HTTP status is the output the test expects).
  So a command the guide shows only as an example or for a trial is written commented out.
- ``<…>`` is a value the reader replaces: PLACEHOLDERS has each; an unknown one fails the test.
- Every command must match a rule of RULES, which says what the test does instead where this
  machine differs from a bureau's server (no systemd, not /etc, a shared PostgreSQL binary…);
  a command no rule knows fails the test ("unknown command in section N").
- Absolute paths under /opt, /srv, /etc, /var and /usr/local, and /tmp/dl, move into the test's
  prefix (PREFIXED), in the commands and in what the test edits or starts; the addresses
  127.0.0.1:5432, :6379 and :8050 become the test's PostgreSQL, Redis and web port
  (Deployment.addresses).
- Sections whose blocks are not followed here say why in NOT_FOLLOWED; a new section with a
  block must go into one or the other.

After the guide: the login page, the wall and its vendored script through nginx over HTTPS
(nginx serving files of the installed release, gzipped, with their cache lifetimes), a ticket
through Open311 and a wall screen's WebSocket through nginx receiving its event, and the first
admin logging in.
"""
from __future__ import annotations

import contextlib
import getpass
import gzip
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import requests

from dashboard.live.keys import LEADER
from tests.deploy import env_values, filled_in, open311_ticket, unit_settings
from tests.helpers import wait_until
from tests.integration.test_deploy_nginx import (
    NAME, NGINX, _nginx, main_config, on_private_ports, running_nginx, self_signed, with_port_in_host)
from tests.servers import ROOT, PostgresServer, free_port
from tests.wall_client import WallScreen

pytestmark = [
    pytest.mark.real_servers, pytest.mark.deploy_guide,
    pytest.mark.skipif(not (os.path.exists(NGINX) and shutil.which("openssl") and shutil.which("curl"))
                       and not os.environ.get("MINSHENG_REQUIRE_REAL_SERVERS"),
                       reason="nginx (Debian package nginx-light or nginx), openssl and curl are needed"),
]

GUIDE = ROOT / "docs" / "DEPLOY.md"
RELEASE = "test"
WHEEL_CACHE = Path.home() / ".cache" / "minsheng-test"
NOT_FOLLOWED = {
    6: "optional (Redis Sentinel, three hosts): tests/integration/test_cluster.py runs its sentinel.conf",
    11: "backups need systemd's timer; tests/integration/test_backup_restore.py runs backup.sh and restore.sh",
}
# The directories the Debian packages of section 2 make, in the prefix.
PACKAGE_DIRS = ("etc/postgresql/15/main/conf.d", "etc/nginx/sites-available", "etc/nginx/sites-enabled",
                "etc/systemd/system", "usr/local/sbin", "var/log/nginx", "var/lib", "opt", "srv", "tmp")
PREFIXED = re.compile(r"(?<![\w.:/])/(?:opt|srv|etc|var|usr/local|tmp/dl)(?=/|\b)")
PLACEHOLDER = re.compile(r"<([^<>\n]+)>")
# The reader's values for the guide's <…>; files relative to the media folder (no path for the
# prefix to move). <token> is what section 13's `token create` printed.
PLACEHOLDERS = {
    "release": RELEASE, "year": "2027", "admin": "admin", "实名": "王管理", "6 digits": "100001",
    "platform office code": "JN-PTB", "city code": "JN", "certificate+chain": "../certificate", "key": "../key",
}


@dataclass
class Rule:
    pattern: str  # a regular expression the whole command (placeholders filled in) matches
    why: str  # what the test does instead, and why
    run: Callable[["Deployment", str, int], None]


@dataclass
class Deployment:
    """The guide's host: a prefix standing for /, the carried media's folder, the servers."""
    prefix: Path
    postgres: PostgresServer
    redis_url: str
    web_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    https_port: int = field(default_factory=free_port)
    db_password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    placeholders: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    kiosk: str = ""
    last_output: str = ""
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    @property
    def media(self) -> Path:
        """Where the release and the wheels are, on the connected machine and on the servers."""
        return self.prefix / "media"

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def at(self, path: str) -> Path:
        return self.prefix / path.lstrip("/")

    def in_prefix(self, text: str) -> str:
        return PREFIXED.sub(lambda m: f"{self.prefix}{m.group(0)}", text)

    def rewritten(self, text: str) -> str:
        """Paths into the prefix, the servers' addresses to the test's."""
        text = self.in_prefix(text)
        for old, new in self.addresses().items():
            text = text.replace(old, new)
        return text

    def addresses(self) -> dict[str, str]:
        redis_port = self.redis_url.split(":")[2].split("/")[0]
        return {"127.0.0.1:5432": f"127.0.0.1:{self.postgres.port}", "127.0.0.1:6379": f"127.0.0.1:{redis_port}",
                "127.0.0.1:8050": f"127.0.0.1:{self.web_port}", "MINSHENG_PORT=8050": f"MINSHENG_PORT={self.web_port}"}

    def env(self) -> dict[str, str]:
        """The root shell's environment: none of the suite's settings; minsheng-app (deploy/minsheng-app)
        told where the prefix put its settings and code, and to run as this account."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("MINSHENG_", "DATABASE_URL", "REDIS_URL", "PG", "VIRTUAL_ENV", "PYTHON"))}
        return {**env, "PATH": f"{self.at('/usr/local/sbin')}:{env['PATH']}",
                "MINSHENG_ENV_FILE": str(self.at("/etc/minsheng/minsheng.env")),
                "MINSHENG_HOME": str(self.at("/opt/minsheng")), "MINSHENG_ACCOUNT": getpass.getuser()}

    def sh(self, command: str, section: int, stdin: str = "", env: dict[str, str] | None = None,
           timeout: float = 600) -> str:
        """``command`` (already rewritten) by bash in the media folder; no terminal, so password
        prompts read stdin. Fails the test with the output when it fails."""
        done = subprocess.run(["bash", "-c", f"set -eo pipefail; {command}"], cwd=self.media, input=stdin,
                              env=env or self.env(), capture_output=True, text=True, timeout=timeout,
                              start_new_session=True)
        assert done.returncode == 0, f"section {section}: {command!r} failed ({done.returncode}):\n" \
                                     f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        self.last_output = done.stdout
        return done.stdout

    def stop(self) -> None:
        self.stack.close()
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


# ------------------------------------------------------------------ what each command becomes
def _as_written(d: Deployment, command: str, section: int) -> None:
    d.sh(d.rewritten(command), section)


def _nothing(d: Deployment, command: str, section: int) -> None:
    pass


def _packages(d: Deployment, command: str, section: int) -> None:
    missing = [p for p in command.split()[3:]
               if subprocess.run(["dpkg", "-s", p], capture_output=True, check=False).returncode != 0]
    assert not missing, f"section {section}: Debian packages not installed on this machine: {missing}"


def _pip_download(d: Deployment, command: str, section: int) -> None:
    """The first run asks PyPI and keeps the wheelhouse; later ones resolve from the kept one."""
    cache = WHEEL_CACHE / f"wheels-{hashlib.sha256((ROOT / 'pyproject.toml').read_bytes()).hexdigest()[:16]}"
    dest = re.search(r"--dest (\S+)", command)
    assert dest, command
    if (cache / ".complete").exists():
        d.sh(d.rewritten(command) + f" --no-index --find-links={shlex.quote(str(cache))}", section)
        return
    d.sh(d.rewritten(command), section)
    partial = cache.with_name(f"{cache.name}.{os.getpid()}")
    shutil.copytree(d.media / dest.group(1), partial)
    (partial / ".complete").touch()
    with contextlib.suppress(OSError):  # another process may have kept the same set first
        partial.rename(cache)
    shutil.rmtree(partial, ignore_errors=True)


def _account(d: Deployment, command: str, section: int) -> None:
    home = re.search(r"--home (\S+)", command)
    assert home, command
    d.at(home.group(1)).mkdir(parents=True, exist_ok=True)


def _install(d: Deployment, command: str, section: int) -> None:
    d.sh(re.sub(r" -[og] \S+", "", d.rewritten(command)), section)


def _restart_postgresql(d: Deployment, command: str, section: int) -> None:
    # A copy in the server's data directory: the postgres account may not enter pytest's temp dir.
    conf_d = d.postgres.datadir / "conf.d"
    shutil.copytree(d.at("/etc/postgresql/15/main/conf.d"), conf_d)
    if os.geteuid() == 0:
        for path in (conf_d, *conf_d.iterdir()):
            shutil.chown(path, "postgres", "postgres")
    with open(d.postgres.datadir / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write("\ninclude_dir = 'conf.d'\n")  # as Debian's postgresql.conf does
    d.postgres.restart()


def _as_postgres(d: Deployment, command: str, section: int) -> None:
    words = shlex.split(command)[4:]
    env = {**d.env(), "PGHOST": "127.0.0.1", "PGPORT": str(d.postgres.port), "PGUSER": d.postgres.superuser}
    tool = shlex.join([str(d.postgres.bindir / words[0]), *words[1:]])
    d.sh(tool, section, stdin=f"{d.db_password}\n{d.db_password}\n", env=env)


def _minsheng_app(d: Deployment, command: str, section: int) -> None:
    output = d.sh(d.rewritten(command), section, stdin=f"{d.admin_password}\n{d.admin_password}\n")
    if " token kiosk " in f" {command} " and not d.kiosk:
        found = re.search(r"/wall\?kiosk=(\S+)", output)
        assert found, f"section {section}: {command} printed no wall URL: {output}"
        d.kiosk = found.group(1)
    if " token create " in f" {command} ":
        d.placeholders["token"] = output.strip()


def _editor(d: Deployment, command: str, section: int) -> None:
    """What the reader types into the file: every placeholder of the settings; the site's ports."""
    path = d.at(command.split()[1])
    text = path.read_text(encoding="utf-8")
    if path.name == "minsheng.env":
        values = filled_in(text, f"postgresql+psycopg://minsheng:{d.db_password}@127.0.0.1:5432/minsheng",
                           env_values(text)["REDIS_URL"], env_values(text)["MINSHENG_CONFIG"])
        text = d.rewritten("".join(f"{k}={v}\n" for k, v in values.items()))
    elif path.parent.name == "sites-available":
        text = with_port_in_host(on_private_ports(d.in_prefix(text), d.web_port, d.http_port, d.https_port))
    else:
        pytest.fail(f"section {section}: the test does not know what to write into {path}")
    path.write_text(text, encoding="utf-8")


def _start_unit(d: Deployment, command: str, section: int) -> None:
    """What systemd does: the unit's ExecStart in its WorkingDirectory with its EnvironmentFile
    and Environment, as this account; started once its port answers (web) or it says so (worker)."""
    name = command.split()[-1]
    unit = unit_settings(d.at(f"/etc/systemd/system/{name}.service").read_text(encoding="utf-8"))
    env = {k: v for k, v in d.env().items() if not k.startswith("MINSHENG_")}
    for env_file in unit["EnvironmentFile"]:
        env.update(env_values(d.at(env_file).read_text(encoding="utf-8")))
    for assignments in unit.get("Environment", []):
        env.update(a.partition("=")[::2] for a in shlex.split(d.rewritten(assignments)))
    log = d.prefix / f"{name}.log"
    d.processes[name] = process = subprocess.Popen(
        shlex.split(d.rewritten(unit["ExecStart"][0])), cwd=d.rewritten(unit["WorkingDirectory"][0]), env=env,
        stdout=log.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def started() -> bool:
        assert process.poll() is None, f"{name} exited:\n{log.read_text(errors='replace')[-4000:]}"
        if name == "minsheng-worker":
            return "background duties" in log.read_text(errors="replace")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"http://127.0.0.1:{d.web_port}/api/v1/health", timeout=2) as answer:
                return answer.status == 200
        return False

    wait_until(started, timeout=90, what=f"{name} to start")


def _worker_leads(d: Deployment, command: str, section: int) -> None:
    client = redis.Redis.from_url(d.redis_url, decode_responses=True)
    pid = d.processes["minsheng-worker"].pid
    wait_until(lambda: str(client.get(LEADER) or "").split(":")[1:2] == [str(pid)], timeout=30,
               what="the worker to say it leads")
    client.close()


def _nginx_conf(d: Deployment) -> Path:
    run = d.prefix / "nginx"
    run.mkdir(exist_ok=True)
    return main_config(run, f"{d.at('/etc/nginx/sites-enabled')}/*")


def _nginx_t(d: Deployment, command: str, section: int) -> None:
    d.sh(shlex.join(_nginx(_nginx_conf(d), "-t")), section)


def _reload_nginx(d: Deployment, command: str, section: int) -> None:
    d.stack.enter_context(running_nginx(_nginx_conf(d), d.http_port))


def _curl(d: Deployment, command: str, section: int) -> None:
    """The site's name reaches the test's nginx on its private ports; its certificate is trusted."""
    reach = (f"curl --noproxy '*' --connect-to {NAME}:80:127.0.0.1:{d.http_port}"
             f" --connect-to {NAME}:443:127.0.0.1:{d.https_port} --cacert {d.at('/etc/ssl/minsheng/minsheng.crt')}")
    d.sh(d.rewritten(re.sub(r"^curl", reach, command)), section)


RULES = [
    Rule(r"apt-get update", "nothing: this machine's package lists; the test installs nothing", _nothing),
    Rule(r"apt-get install -y [\w.+ -]+", "each package must be installed already (dpkg -s): the missing ones "
         "are named (make test installs them, Makefile TEST_APT)", _packages),
    Rule(r"/tmp/dl/bin/pip download .*", "PyPI the first time, into the wheel cache; after, the cached "
         "wheels with --no-index (an offline re-check that they satisfy the release)", _pip_download),
    Rule(r"(tar|mv|ln|cp|rm|ls|python3) .*|/opt/minsheng/\.venv/bin/(pip|python) .*", "as written, in the prefix",
         _as_written),
    Rule(r"adduser --system --group --home \S+ minsheng", "the account is this one (MINSHENG_ACCOUNT for "
         "minsheng-app); its home is made", _account),
    Rule(r"install .*", "as written in the prefix, without -o/-g: every file is this account's", _install),
    Rule(r"systemctl restart postgresql", "the test's own PostgreSQL, started for this test, includes a copy "
         "of the prefix's conf.d as Debian's postgresql.conf does, and restarts", _restart_postgresql),
    Rule(r"runuser -u postgres -- (createuser|createdb|psql) .*", "that PostgreSQL's binary as its superuser over "
         "TCP (its pg_hba trusts 127.0.0.1, so the password is set, not checked); prompts read stdin", _as_postgres),
    Rule(r"minsheng-app .*", "the installed /usr/local/sbin/minsheng-app; passwords on stdin, the printed "
         "kiosk URL and token kept", _minsheng_app),
    Rule(r"editor \S+", "the settings: every placeholder filled in (tests/deploy.filled_in); the site: the test's "
         "ports, and $http_host (a port other than 443)", _editor),
    Rule(r"systemctl daemon-reload", "nothing: no systemd", _nothing),
    Rule(r"systemctl enable --now minsheng-(web|worker)", "the unit's ExecStart with its EnvironmentFile and "
         "Environment, in its WorkingDirectory, as this account", _start_unit),
    Rule(r"journalctl -u minsheng-worker -f", "Redis's leader key names the worker's process", _worker_leads),
    Rule(r"nginx -t", "Debian's nginx on a main file of the test's (tests/integration/test_deploy_nginx.main_config) "
         "including the prefix's sites-enabled", _nginx_t),
    Rule(r"systemctl reload nginx", "that nginx started (the package's would be running)", _reload_nginx),
    Rule(r"curl .*", "the site's name to the test's nginx ports (--connect-to), its certificate trusted "
         "(--cacert)", _curl),
]


# ------------------------------------------------------------------ reading the guide
def guide_sections(text: str) -> dict[int, list[str]]:
    """Each numbered section's commands: its ```sh blocks' lines, continuations joined, comment
    lines dropped (a trailing comment stays: it may say the expected output)."""
    sections: dict[int, list[str]] = {}
    parts = re.split(r"^## (\d+)\. .*$", text, flags=re.M)
    for number, body in zip(parts[1::2], parts[2::2]):
        lines: list[str] = []
        for block in re.findall(r"^([ \t]*)```sh\n(.*?)^[ \t]*```", body, flags=re.M | re.S):
            indent, code = block
            code = "\n".join(line[len(indent):] for line in code.splitlines()).replace("\\\n", " ")
            lines += [line.strip() for line in code.splitlines() if line.strip() and not line.strip().startswith("#")]
        sections[int(number)] = lines
    return sections


def split_comment(line: str) -> tuple[str, str]:
    """The command and its trailing comment (a ``#`` after a blank, outside quotes)."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and i and line[i - 1].isspace():
            return line[:i].strip(), line[i + 1:].strip()
    return line.strip(), ""


def commands(line: str) -> list[str]:
    """The commands of a line joined by ``&&`` (each runs once the one before it succeeded)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars="|&")
    lexer.whitespace_split = True
    words: list[str] = []
    found: list[str] = []
    for word in lexer:
        if word == "&&":
            found.append(" ".join(words))
            words = []
        else:
            words.append(word if word == "|" else shlex.quote(word))
    return [*found, " ".join(words)]


def rule_for(command: str, section: int) -> Rule:
    for rule in RULES:
        if re.fullmatch(rule.pattern, command):
            return rule
    pytest.fail(f"unknown command in section {section}: {command}", pytrace=False)


def follow(d: Deployment, section: int, line: str) -> None:
    command_line, comment = split_comment(line)

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in d.placeholders:
            pytest.fail(f"unknown placeholder in section {section}: <{name}> in {line}", pytrace=False)
        return d.placeholders[name]

    command_line = PLACEHOLDER.sub(value, command_line)
    for command in commands(command_line):
        rule_for(command, section).run(d, command, section)
    expected = comment.split("  ")[0]
    if expected.startswith("{"):
        assert json.loads(d.last_output) == json.loads(expected), f"section {section}: {line}: {d.last_output}"
    elif re.match(r"\d{3} ", expected):
        assert f" {expected[:3]} " in d.last_output, f"section {section}: {line}: {d.last_output}"


# ------------------------------------------------------------------ the test
def release(into: Path) -> Path:
    """The release tarball as `git archive` makes it: a directory minsheng/ with the checkout's
    tracked files (uncommitted changes included: ``git stash create`` commits them aside)."""
    git = ["git", "-C", str(ROOT)]
    who = {f"GIT_{role}_{what}": "minsheng-test" for role in ("AUTHOR", "COMMITTER") for what in ("NAME", "EMAIL")}
    tree = subprocess.run([*git, "stash", "create"], capture_output=True, text=True, check=True,
                          env={**os.environ, **who}).stdout.strip()
    tarball = into / f"minsheng-{RELEASE}.tar.gz"
    subprocess.run([*git, "archive", "--format=tar.gz", "--prefix=minsheng/", f"--output={tarball}", tree or "HEAD"],
                   check=True, timeout=120)
    return tarball


@pytest.fixture
def deployment(tmp_path: Path, redis_url: str) -> Iterator[Deployment]:
    with PostgresServer() as server:  # its own: section 4 changes its settings and restarts it
        d = Deployment(tmp_path / "root", server, redis_url)
        for folder in PACKAGE_DIRS:
            d.at(folder).mkdir(parents=True)
        d.media.mkdir()
        release(d.media)
        # The bureau's own files (section 8) and its CA's certificate (section 10).
        d.at("/etc/minsheng").mkdir()
        shutil.copy(ROOT / "examples" / "jinan_bureau.yaml", d.at("/etc/minsheng/bureau.yaml"))
        # The shipped calendar only shows the format: the bureau enters the schedule and drops its
        # placeholder line (the example's own instructions).
        calendar = (ROOT / "examples" / "calendar_2027.yaml").read_text(encoding="utf-8")
        assert "\nplaceholder: true\n" in calendar
        d.at("/etc/minsheng/calendar-2027.yaml").write_text(calendar.replace("\nplaceholder: true\n", "\n"),
                                                            encoding="utf-8")
        self_signed(d.prefix / "key.pem", d.prefix / "certificate.pem")
        d.placeholders.update(PLACEHOLDERS)
        try:
            yield d
        finally:
            d.stop()


def test_every_command_of_the_guide_has_a_rule() -> None:
    """Before anything runs: each followed line's placeholders and commands are known (the long
    test below would stop at the first unknown one, minutes in)."""
    sections = guide_sections(GUIDE.read_text(encoding="utf-8"))
    assert sorted(sections) == list(range(1, len(sections) + 1))
    assert all(sections[n] for n in NOT_FOLLOWED), "a section not followed here has no commands any more"
    known = {*PLACEHOLDERS, "token"}
    for number, lines in sections.items():
        for line in lines if number not in NOT_FOLLOWED else []:
            command_line = split_comment(line)[0]
            unknown = set(PLACEHOLDER.findall(command_line)) - known
            assert not unknown, f"unknown placeholder in section {number}: {unknown} in {line}"
            for command in commands(PLACEHOLDER.sub("x", command_line)):
                rule_for(command, number)


def test_an_unknown_or_broken_command_fails(deployment: Deployment) -> None:
    with pytest.raises(pytest.fail.Exception, match="unknown command in section 3: scp"):
        follow(deployment, 3, "scp minsheng-test.tar.gz server:")
    with pytest.raises(pytest.fail.Exception, match="unknown placeholder in section 8: <unit>"):
        follow(deployment, 8, "minsheng-app token kiosk --unit <unit>")
    with pytest.raises(AssertionError, match="section 3: 'tar -xzf"):
        follow(deployment, 3, "tar -xzf minsheng-<release>.tar.gz -C /nonexistent")
    with pytest.raises(AssertionError, match="not installed on this machine: \\['minsheng-no-such-package'\\]"):
        follow(deployment, 2, "apt-get install -y nginx-light minsheng-no-such-package")


def test_the_guide_from_its_first_line_to_a_platform_behind_nginx(deployment: Deployment) -> None:
    d = deployment
    sections = guide_sections(GUIDE.read_text(encoding="utf-8"))
    for number, lines in sections.items():
        if number in NOT_FOLLOWED:
            continue
        started = time.monotonic()
        for line in lines:
            follow(d, number, line)
        print(f"section {number}: {time.monotonic() - started:.1f} s")

    # The working platform, through nginx over HTTPS.
    web = requests.Session()
    web.verify, web.trust_env = False, False  # the trial certificate names the site, not 127.0.0.1
    login = web.get(f"{d.https_url}/login", timeout=10)
    assert login.status_code == 200 and 'name="csrf_token"' in login.text
    # Static files come from the installed release, by nginx: gzipped, with their lifetimes.
    release_dir = d.at(f"/opt/minsheng-{RELEASE}")
    vendored = web.get(f"{d.https_url}/static/vendor/socket.io.min.js", timeout=10, stream=True)
    assert vendored.headers["Cache-Control"] == "public, max-age=86400"
    assert vendored.headers["Content-Encoding"] == "gzip"
    raw = vendored.raw.read()
    assert gzip.decompress(raw) == (release_dir / "dashboard/static/vendor/socket.io.min.js").read_bytes()
    wall = web.get(f"{d.https_url}/wall?kiosk={d.kiosk}", timeout=30)
    assert wall.status_code == 200, wall.text[:500]
    asset = re.search(r'"(/assets/[\w./-]+\.js\?m=[\d.]+)"', wall.text)
    assert asset, "the wall's page names no versioned asset"
    served = web.get(d.https_url + asset.group(1), timeout=10)
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert served.content == (release_dir / "dashboard" / asset.group(1).split("?")[0].lstrip("/")).read_bytes()

    # A wall screen's WebSocket through nginx gets the event of a ticket taken through nginx.
    screen = WallScreen(d.https_url, d.kiosk, name="wall")
    try:
        ticket = open311_ticket(d.https_url, 1)
        wait_until(lambda: ticket in screen.numbers, timeout=30, what=f"the wall to get ticket {ticket}")
        assert screen.connected and screen.received >= 1
    finally:
        screen.close()

    # The first admin logs in.
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
    assert token
    answer = web.post(f"{d.https_url}/login", data={"username": "admin", "password": d.admin_password,
                                                    "csrf_token": token.group(1)}, timeout=10, allow_redirects=False)
    assert answer.status_code == 302, answer.text[:500]
    home = web.get(d.https_url + answer.headers["Location"], timeout=30, allow_redirects=False)
    assert home.status_code == 200, (answer.headers["Location"], home.status_code)
