"""What a server's processes cost, read from /proc: CPU seconds and resident memory of a
process tree (gunicorn's master and its workers, the platform's worker)."""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the command's name (which may hold spaces)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def tree(root_pids: Iterable[int]) -> Iterator[int]:
    """These processes and every descendant alive now."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                children.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    todo, seen = list(root_pids), set()
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            yield pid
            todo.extend(children.get(pid, []))


def cpu_seconds(root_pids: Iterable[int], reaped: bool = False) -> float:
    """User + system CPU seconds of the tree (of the processes alive now). ``reaped``: and of the
    roots' children that have exited and been waited for (a PostgreSQL postmaster's backends
    come and go with their connections; their time moves into its cutime/cstime)."""
    roots, total = list(root_pids), 0.0
    for pid in tree(roots):
        try:
            fields = _stat(pid)
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
            if reaped and pid in roots:
                total += (int(fields[13]) + int(fields[14])) / CLOCK_TICKS  # cutime, cstime
        except (OSError, IndexError, ValueError):
            pass
    return total


def rss_bytes(root_pids: Iterable[int]) -> int:
    """Resident memory of the tree, in bytes."""
    total = 0
    for pid in tree(root_pids):
        try:
            total += int(_stat(pid)[21]) * PAGE_BYTES  # rss, in pages
        except (OSError, IndexError, ValueError):
            pass
    return total
