"""Test-side helpers: processes and threads read from /proc, overlap of timed intervals, executor internals."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable


def _stat(pid: int) -> tuple[str, int] | None:
    """``(state, ppid)`` of ``pid``, or None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = data[data.rindex(")") + 2 :].split()  # the command name may contain spaces and parentheses
    return fields[0], int(fields[1])


def children(pid: int | None = None) -> set[int]:
    """Pids whose parent is ``pid`` (default: this process), zombies included (they were not reaped)."""
    pid = os.getpid() if pid is None else pid
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None and stat[1] == pid:
                out.add(int(entry))
    return out


def alive(pid: int) -> bool:
    """True if ``pid`` exists; an unreaped zombie counts (it is a leftover too)."""
    return _stat(pid) is not None


def os_thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


def eventually(predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def max_overlap(intervals: Iterable[tuple[float, float]]) -> int:
    """The largest number of ``(start, end)`` intervals that are open at the same moment."""
    events = []
    for start, end in intervals:
        events.append((start, 1))
        events.append((end, -1))
    events.sort(key=lambda e: (e[0], e[1]))  # an end before a start at the same instant: no overlap
    running = best = 0
    for _, delta in events:
        running += delta
        best = max(best, running)
    return best


# ---- the few private attributes the tests need (kept here so a refactoring updates one place) -------------------
def _pool(executor):
    """The executor's worker pool, once its scheduler thread has bound the channel (it does so first thing)."""
    pool = executor._scheduler.pool
    assert pool.opened.wait(30), "the executor's scheduler thread did not open its channel within 30 s"
    return pool


def channel_address(executor) -> str:
    """The address workers connect to (``tcp://host:port``)."""
    return _pool(executor).channel.address


def rejected_frames(executor) -> int:
    """How many incoming frames the executor dropped as not authentic."""
    return _pool(executor).channel.rejected


def channel_secret(executor) -> bytes:
    return _pool(executor).channel._framer._key


def fork_server_pid(executor) -> int:
    return _pool(executor).spawners[0].process.pid
