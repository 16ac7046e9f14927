"""deploy/nginx/minsheng.conf, as shipped, under Debian's nginx (docs/DEPLOY.md): ``nginx -t``
accepts it with a self-signed certificate in place of the bureau's, and running it on private
ports it moves HTTP to HTTPS, serves the platform's static directories from disk with their
cache lifetimes and gzip, limits bodies as the app does, and proxies to the web processes with
the headers the app relies on (Host, X-Forwarded-For/-Proto; the WebSocket upgrade on
/socket.io/). The web process here is a stand-in that echoes the headers it got."""
from __future__ import annotations

import contextlib
import gzip
import http.client
import json
import os
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import settings as settings_module
from tests.helpers import ROOT
from tests.servers import free_port

SITE = ROOT / "deploy" / "nginx" / "minsheng.conf"
NAME = "minsheng.example.gov.cn"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

pytestmark = pytest.mark.skipif(
    not (os.path.exists(NGINX) and shutil.which("openssl")) and not os.environ.get("MINSHENG_REQUIRE_REAL_SERVERS"),
    reason="nginx (Debian package nginx-light or nginx) and openssl are needed")


class _Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Site:
    http_port: int
    https_port: int
    root: Path

    def get(self, path: str, *, tls: bool = True, **headers: str) -> http.client.HTTPResponse:
        if tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                "127.0.0.1", self.https_port, context=context, timeout=10)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        conn.request("GET", path, headers={"Host": NAME, **headers})
        response = conn.getresponse()
        response.read_body = response.read()  # type: ignore[attr-defined]
        conn.close()
        return response


def _site_for_test(tmp: Path, upstream_port: int, http_port: int, https_port: int) -> str:
    """The shipped site with what a test machine must change: the certificate, the code's
    directory, the logs, the ports. Everything else is as shipped."""
    text = SITE.read_text(encoding="utf-8")
    for old, new in (("/etc/ssl/minsheng/", f"{tmp}/"), ("/opt/minsheng/", f"{ROOT}/"), ("/var/log/nginx/", f"{tmp}/")):
        assert old in text, f"the shipped site no longer has {old!r}"
        text = text.replace(old, new)
    return on_private_ports(text, upstream_port, http_port, https_port)


def on_private_ports(text: str, upstream_port: int, http_port: int, https_port: int) -> str:
    """The site (shipped, or installed as docs/DEPLOY.md says) listening on 127.0.0.1's private
    ports instead of 80 and 443, in front of a web process on ``upstream_port``."""
    for old, new in (("127.0.0.1:8050", f"127.0.0.1:{upstream_port}"),
                     ("listen 80;", f"listen 127.0.0.1:{http_port};"),
                     ("listen [::]:80;", ""), ("listen [::]:443 ssl http2;", ""),
                     ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
                     ("return 301 https://$host$request_uri;", f"return 301 https://$host:{https_port}$request_uri;")):
        assert old in text, f"the site no longer has {old!r}"
        text = text.replace(old, new)
    return text


def with_port_in_host(site: str) -> str:
    """The site passing the port a client named (``$http_host``) on to the app: the app compares
    a WebSocket's Origin with the Host it gets, which on a port other than 443 holds the port,
    as the site's own comment says."""
    shipped = "proxy_set_header Host              $host;"
    assert shipped in site
    return site.replace(shipped, "proxy_set_header Host              $http_host;")


def self_signed(key: Path, crt: Path) -> None:
    """A self-signed certificate for the site's name, in place of the bureau's."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={NAME}",
                    "-addext", f"subjectAltName=DNS:{NAME}", "-keyout", str(key), "-out", str(crt)],
                   check=True, capture_output=True, timeout=60)


def main_config(tmp: Path, include: str) -> Path:
    """nginx's main configuration for a test (Debian's, reduced: its own pid, logs and temporary
    files in ``tmp``), including the site files ``include`` names."""
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers read the checkout (as root: root's)
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"{user}worker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\ndaemon off;\n"
        "events { worker_connections 256; }\n"
        "http {\n  include /etc/nginx/mime.types;\n  default_type application/octet-stream;\n"
        f"  client_body_temp_path {tmp}/body;\n  proxy_temp_path {tmp}/proxy;\n"
        f"  fastcgi_temp_path {tmp}/fastcgi;\n  uwsgi_temp_path {tmp}/uwsgi;\n  scgi_temp_path {tmp}/scgi;\n"
        f"  access_log off;\n  include {include};\n}}\n", encoding="utf-8")
    return conf


def _write_config(tmp: Path, site: str) -> Path:
    self_signed(tmp / "minsheng.key", tmp / "minsheng.crt")
    (tmp / "minsheng.conf").write_text(site, encoding="utf-8")
    return main_config(tmp, str(tmp / "minsheng.conf"))


def _nginx(conf: Path, *args: str) -> list[str]:
    return [NGINX, "-p", str(conf.parent), "-e", str(conf.parent / "error.log"), "-c", str(conf), *args]


@contextlib.contextmanager
def running_nginx(conf: Path, http_port: int) -> Iterator[subprocess.Popen[bytes]]:
    """nginx on ``conf`` (checked with ``nginx -t`` first) until the block ends; ready once its
    HTTP port accepts."""
    checked = subprocess.run(_nginx(conf, "-t"), check=False, capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    server = subprocess.Popen(_nginx(conf), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                http.client.HTTPConnection("127.0.0.1", http_port, timeout=1).connect()
                break
            except OSError:
                assert server.poll() is None, (conf.parent / "error.log").read_text()
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)
        yield server
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    http_port, https_port = free_port(), free_port()
    conf = _write_config(tmp_path, _site_for_test(tmp_path, upstream.server_address[1], http_port, https_port))
    try:
        with running_nginx(conf, http_port):
            yield Site(http_port, https_port, tmp_path)
    finally:
        upstream.shutdown()
        upstream.server_close()


def test_the_shipped_site_passes_nginx_t(tmp_path: Path) -> None:
    conf = _write_config(tmp_path, _site_for_test(tmp_path, 8050, free_port(), free_port()))
    checked = subprocess.run(_nginx(conf, "-t"), check=False, capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


def test_http_moves_to_https(site: Site) -> None:
    response = site.get("/wall?x=1", tls=False)
    assert response.status == 301
    assert response.getheader("Location") == f"https://{NAME}:{site.https_port}/wall?x=1"


def test_assets_come_from_disk_versioned_for_a_year_and_gzipped(site: Site) -> None:
    on_disk = (ROOT / "dashboard" / "assets" / "live.js").read_bytes()
    versioned = site.get("/assets/live.js?m=1764712345.0", **{"Accept-Encoding": "gzip"})
    assert versioned.status == 200
    assert versioned.getheader("Cache-Control") == "public, max-age=31536000, immutable"
    assert versioned.getheader("Content-Encoding") == "gzip"
    assert gzip.decompress(versioned.read_body) == on_disk  # type: ignore[attr-defined]
    assert versioned.getheader("X-Content-Type-Options") == "nosniff"
    plain = site.get("/assets/live.js")
    assert plain.getheader("Cache-Control") == "no-cache" and plain.getheader("ETag")
    assert plain.read_body == on_disk  # type: ignore[attr-defined]


def test_vendored_libraries_come_from_disk_for_a_day(site: Site) -> None:
    response = site.get("/static/vendor/socket.io.min.js", **{"Accept-Encoding": "gzip"})
    assert response.status == 200
    assert response.getheader("Cache-Control") == "public, max-age=86400"
    assert response.getheader("Content-Encoding") == "gzip"
    # A path climbing out of /static/ is normalised first: it is no file of the checkout's.
    climbing = site.get("/static/../settings.py")
    assert b"class Settings" not in climbing.read_body  # type: ignore[attr-defined]


def test_the_web_processes_get_the_client_the_scheme_and_the_name(site: Site) -> None:
    response = site.get("/api/v1/health", **{"X-Forwarded-For": "10.9.9.9"})
    assert response.status == 200
    seen = json.loads(response.read_body)  # type: ignore[attr-defined]
    headers = seen["headers"]
    assert headers["host"] == NAME
    assert headers["x-forwarded-proto"] == "https"
    # A client's own X-Forwarded-For is kept in front; nginx appends the address it saw, the
    # one entry the app believes (MINSHENG_PROXY_HOPS=1).
    assert headers["x-forwarded-for"] == "10.9.9.9, 127.0.0.1"
    assert "upgrade" not in headers and headers.get("connection", "") == ""
    # Dash's own bundles stay with the app.
    assert site.get("/_dash-component-suites/dash/dash-renderer/build/dash_renderer.v3_0_0m1.min.js").status == 200


def test_socket_io_is_upgraded_to_a_websocket(site: Site) -> None:
    response = site.get("/socket.io/?EIO=4&transport=websocket",
                        Upgrade="websocket", Connection="Upgrade", **{"Sec-WebSocket-Version": "13",
                                                                      "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    headers = json.loads(response.read_body)["headers"]  # type: ignore[attr-defined]
    assert headers["upgrade"] == "websocket" and headers["connection"] == "upgrade"


def test_bodies_over_the_apps_limit_are_refused_at_the_door(site: Site) -> None:
    limit = settings_module.Settings().intake_max_body_bytes
    assert f"client_max_body_size {limit};" in SITE.read_text(encoding="utf-8")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", site.https_port, context=context, timeout=10)
    conn.request("POST", "/api/v1/intake/hotline", body=b"x" * (limit + 1),
                 headers={"Host": NAME, "Content-Type": "application/json"})
    assert conn.getresponse().status == 413
    conn.close()
