"""Process-wide counters of what this process's executors did.

The pytest plugin reads them to print its terminal summary and to find the cache directories a test used, so
they are a small stable contract: ``snapshot()`` returns a plain dict, ``cache_directories()`` a set of
absolute paths.  Executors report through the ``record_*`` functions; nothing here blocks or does I/O.
"""

from __future__ import annotations

import os
import threading

_lock = threading.Lock()
_counters: dict[str, int] = {
    "calls_run": 0,  # calls whose worker sent back a result or an error
    "cache_hits": 0,  # calls resolved from the cache without any worker
    "workers_started": 0,  # worker processes started (all ranks of an MPI worker count once)
    "coverage_files": 0,  # workers started with coverage measurement on
}
_cache_directories: set[str] = set()


def record(counter: str, n: int = 1) -> None:
    """Add ``n`` to one of the counters listed in ``snapshot()``."""
    with _lock:
        _counters[counter] += n


def record_cache_directory(path: str | os.PathLike[str]) -> None:
    """Remember that an executor of this process wrote (or will write) cache files below ``path``."""
    with _lock:
        _cache_directories.add(os.path.abspath(path))


def snapshot() -> dict[str, int]:
    """Return a copy of all counters."""
    with _lock:
        return dict(_counters)


def cache_directories() -> set[str]:
    """Return the absolute paths of all cache directories used so far in this process."""
    with _lock:
        return set(_cache_directories)


def forget_cache_directories(paths: set[str]) -> None:
    """Drop ``paths`` from the set (after the plugin removed them)."""
    with _lock:
        _cache_directories.difference_update(paths)
