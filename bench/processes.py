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


def cpu_seconds(root_pids: Iterable[int]) -> float:
    """User + system CPU seconds of the tree (of the processes alive now)."""
    total = 0.0
    for pid in tree(root_pids):
        try:
            fields = _stat(pid)
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
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
