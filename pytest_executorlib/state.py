"""Per-session plugin state, kept in ``config.stash`` (never in module globals).

Each pytest process (the controller and every xdist worker) has its own :class:`SessionState`; workers send
their :class:`Tally` to the controller through ``workeroutput`` and the controller adds them up.
"""

from __future__ import annotations

import weakref
from dataclasses import asdict, dataclass, field
from typing import Any

import pytest

from pytest_executorlib.backends import Backend
from pytest_executorlib.options import Settings


@dataclass
class Tally:
    """What the terminal summary reports; plain data so it can travel from xdist workers."""

    calls_run: int | None = None  # None: the implementation does not report it
    cache_hits: int | None = None
    workers_started: int | None = None
    coverage_files: int | None = None
    removed: list[str] = field(default_factory=list)  # cache directories removed
    kept: list[str] = field(default_factory=list)  # cache directories kept (--xlib-keep-cache)
    #: (nodeid, path) of cache directories created outside the fixtures
    unmanaged: list[tuple[str, str]] = field(default_factory=list)
    #: directories an xdist worker left for the controller to remove at the end (shared places such as cwd)
    deferred: list[str] = field(default_factory=list)
    #: (nodeid, call) of running calls stopped after a failed or interrupted test
    stopped: list[tuple[str, str]] = field(default_factory=list)
    #: a test used the plugin's fixtures or markers (then the summary is shown)
    plugin_used: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def add(self, other: dict[str, Any]) -> None:
        """Add a worker's ``to_dict()`` to this tally."""
        for key in ("calls_run", "cache_hits", "workers_started", "coverage_files"):
            if other.get(key) is not None:
                setattr(self, key, (getattr(self, key) or 0) + other[key])
        for key in ("removed", "kept", "unmanaged", "deferred", "stopped"):
            getattr(self, key).extend(tuple(v) if isinstance(v, list) else v for v in other.get(key, []))
        self.plugin_used = self.plugin_used or bool(other.get("plugin_used"))

    def did_something(self) -> bool:
        """True when the plugin was used or removed, kept or found a cache directory."""
        return self.plugin_used or bool(self.removed or self.kept or self.unmanaged)


@dataclass
class CacheWindow:
    """One test's (or the session's) window for finding new cache directories.

    Filled in by the fixtures with the directories they hand out; stored in ``item.stash``.
    """

    start_time: float
    start_cwd: str
    start_entries: frozenset[str]
    default_cache_existed: bool
    managed: set[str] = field(default_factory=set)  # handed out by (or given to) the fixtures
    created: set[str] = field(default_factory=set)  # created by the fixtures themselves


cache_window_key = pytest.StashKey[CacheWindow]()


@dataclass
class SessionState:
    settings: Settings
    backend: Backend
    impl: str
    is_xdist_worker: bool
    is_xdist_controller: bool
    #: the session's own window: what the cwd looked like at start (for the end-of-session sweep)
    session_caches: CacheWindow
    telemetry_start: dict[str, int] | None
    tally: Tally = field(default_factory=Tally)
    #: executors built by the fixtures and not shut down yet (closed before pytest-cov combines)
    open_executors: weakref.WeakSet[Any] = field(default_factory=weakref.WeakSet)
    saved_env: dict[str, str | None] = field(default_factory=dict)
    #: the test loop ended by an exception (KeyboardInterrupt): executors are stopped, not waited for
    interrupted: bool = False
    graph_dir: str | None = None  # --xlib-graph: where each test's call graph is written (None: off)


session_key = pytest.StashKey[SessionState]()


def get_state(config: pytest.Config) -> SessionState:
    return config.stash[session_key]
