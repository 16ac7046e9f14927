"""Which release this process serves: walls reload themselves once when it changes.

``MINSHENG_BUILD`` names it when the deployment sets it (a release tag, a commit);
otherwise it is a digest of the names, sizes and modification times of the code and the
browser assets this process was started from (reading their contents took seconds), so
copying a new release in and restarting changes it as well. It travels in
every live snapshot; a wall fetches one after each reconnect, which a restart for a
release always causes (assets/wall_screens.js).
"""
from __future__ import annotations

import hashlib
import os
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What a release changes for a wall: the server's code and what the page loads.
SOURCES = ("app.py", "dashboard", "layouts", "callbacks", "tickets", "geo", "feeds")
SUFFIXES = frozenset({".py", ".js", ".css", ".po"})


@cache
def build_id() -> str:
    named = os.environ.get("MINSHENG_BUILD", "").strip()
    if named:
        return named
    digest = hashlib.sha256()
    for top in SOURCES:
        base = ROOT / top
        paths = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.suffix in SUFFIXES)
        for path in paths:
            stat = path.stat()
            digest.update(f"{path.relative_to(ROOT)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:12]
