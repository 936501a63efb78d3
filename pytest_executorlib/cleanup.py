"""Find the cache directories a test created and remove them after the test.

Where a cache directory can come from, and how it is found:

* the fixtures (``xlib_cache_dir``, ``executor``, ``executor_factory``, and a ``cache_directory`` given in a
  ``resource_dict`` to one of their executors) register it in the test's :class:`CacheWindow`;
* ``executor.telemetry.cache_directories()`` lists every directory the reference executors of this process
  used (``--xlib-impl=reference`` only);
* a scan of the working directory finds a new ``executorlib_cache`` and any new directory holding
  ``*_o.h5`` / ``*_i.h5`` files (the only way to see what ``--xlib-impl=executorlib`` did).

Rules (docs/plugin.md, "Cache cleanup"):

* a directory created during the test is removed as a whole; a directory that existed before keeps its old
  files and loses only the cache files written during the test; the working directory, the rootdir, the
  home directory and their ancestors are never removed;
* a directory that neither the fixtures nor pytest's ``tmp_path`` family handed out is *unmanaged*: it is
  removed too, and reported in the terminal summary (``--xlib-strict-cache`` makes it fail the run);
* under pytest-xdist, unmanaged directories outside the worker's own base temp directory may be shared with
  the other workers, so the worker leaves them to the controller, which removes them at the end of the run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterable
from typing import Literal

from pytest_executorlib.state import CacheWindow, SessionState

DEFAULT_CACHE_NAME = "executorlib_cache"  # executorlib's default cache_directory, relative to the cwd
CACHE_SUFFIXES = ("_o.h5", "_i.h5")
#: How deep below a candidate directory we look for cache files (cache keys may contain "/").
SCAN_DEPTH = 4
#: File timestamps can lag ``time.time()`` by a clock tick; a file this much older than the test start
#: still counts as written by the test.
MTIME_SLACK = 1.0

Outcome = Literal["removed", "partial", "kept", "missing"]


def _listdir(path: str) -> frozenset[str]:
    try:
        return frozenset(os.listdir(path))
    except OSError:
        return frozenset()


def begin_test(cwd: str | None = None) -> CacheWindow:
    """Snapshot what is needed to recognise new cache directories after the test."""
    cwd = cwd or os.getcwd()
    return CacheWindow(
        start_time=time.time(),
        start_cwd=cwd,
        start_entries=_listdir(cwd),
        default_cache_existed=os.path.isdir(os.path.join(cwd, DEFAULT_CACHE_NAME)),
    )


def has_cache_files(path: str, depth: int = SCAN_DEPTH) -> bool:
    """True if ``path`` holds ``*_o.h5`` / ``*_i.h5`` files within ``depth`` levels."""
    try:
        with os.scandir(path) as entries:
            subdirs = []
            for entry in entries:
                if entry.is_file(follow_symlinks=False) and entry.name.endswith(CACHE_SUFFIXES):
                    return True
                if entry.is_dir(follow_symlinks=False):
                    subdirs.append(entry.path)
    except OSError:
        return False
    return depth > 0 and any(has_cache_files(d, depth - 1) for d in subdirs)


def _has_new_cache_files(path: str, since: float) -> bool:
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                if name.endswith(CACHE_SUFFIXES) and os.lstat(os.path.join(root, name)).st_mtime >= since:
                    return True
            except OSError:
                continue
    return False


def new_cache_dirs_in(cwd: str, before: frozenset[str], default_existed: bool, since: float) -> dict[str, bool]:
    """Cache directories in ``cwd`` that are new, or (``executorlib_cache``) got new cache files.

    Returns {absolute path: created during the window}.
    """
    found: dict[str, bool] = {}
    for name in _listdir(cwd) - before:
        path = os.path.join(cwd, name)
        is_dir = os.path.isdir(path) and not os.path.islink(path)
        if is_dir and (name == DEFAULT_CACHE_NAME or has_cache_files(path)):
            found[path] = True
    default = os.path.join(cwd, DEFAULT_CACHE_NAME)
    if default_existed and os.path.isdir(default) and _has_new_cache_files(default, since - MTIME_SLACK):
        found.setdefault(default, False)
    return found


def _protected(path: str, extra: Iterable[str]) -> bool:
    """True for a path whose removal would take the cwd, rootdir, home or base temp dir with it."""
    real = os.path.realpath(path)
    for keep in (os.getcwd(), os.path.expanduser("~"), *filter(None, extra)):
        keep = os.path.realpath(keep)
        if keep == real or keep.startswith(real.rstrip(os.sep) + os.sep):
            return True
    return real == os.path.realpath(os.sep)


def _has_old_files(path: str, since: float) -> bool:
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                if os.lstat(os.path.join(root, name)).st_mtime < since:
                    return True
            except OSError:
                continue
    return False


def _remove_new_cache_files(path: str, since: float, recursive: bool) -> None:
    """Remove cache files written since ``since``, then the directories that became empty."""
    walk = os.walk(path, topdown=False) if recursive else [(path, [], os.listdir(path))]
    for root, _dirs, files in walk:
        for name in files:
            file = os.path.join(root, name)
            try:
                if name.endswith(CACHE_SUFFIXES) and os.lstat(file).st_mtime >= since:
                    os.unlink(file)
            except OSError:
                pass
        if root != path:
            with contextlib.suppress(OSError):
                os.rmdir(root)  # only succeeds when empty


def dispose(path: str, *, created: bool | None, since: float, keep: bool, protected: Iterable[str]) -> Outcome:
    """Remove one cache directory according to the rules in the module docstring.

    ``created``: True if it is known to be new, False if it is known to have existed, None if unknown (then
    it counts as new when it holds no file older than ``since``).
    """
    if not os.path.isdir(path):
        return "missing"
    if keep:
        return "kept"
    since -= MTIME_SLACK
    if _protected(path, protected):
        _remove_new_cache_files(path, since, recursive=False)
        return "partial"
    if created is None:
        created = not _has_old_files(path, since)
    if created:
        shutil.rmtree(path, ignore_errors=True)
        return "removed" if not os.path.exists(path) else "partial"
    _remove_new_cache_files(path, since, recursive=True)
    return "partial"


def is_inside(path: str, directory: str) -> bool:
    """True if ``path`` is ``directory`` or below it (False for an empty ``directory``)."""
    if not directory:
        return False
    real, base = os.path.realpath(path), os.path.realpath(directory)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def finish(
    state: SessionState,
    caches: CacheWindow,
    where: str,
    candidates: dict[str, bool | None],
    basetemp: str,
    protected: Iterable[str],
    already_reported: set[str] = frozenset(),  # type: ignore[assignment]
) -> None:
    """Dispose of every candidate directory of one test (or of the session) and record it in the tally."""
    keep = bool(state.settings.keep_cache.value)
    seen: set[str] = set()
    for path in sorted(candidates):
        real = os.path.realpath(path)
        if real in seen or path in state.tally.kept or not os.path.isdir(path):
            continue  # kept (--xlib-keep-cache) by an earlier test: already reported
        if state.is_xdist_worker and path in state.tally.deferred:
            continue  # already left to the controller
        seen.add(real)
        managed = path in caches.managed or is_inside(path, basetemp)
        if not managed and path not in already_reported:
            state.tally.unmanaged.append((where, path))
            if state.is_xdist_worker:  # maybe shared with other workers: the controller removes it
                state.tally.deferred.append(path)
                continue
        outcome = dispose(
            path,
            created=True if path in caches.created else candidates[path],
            since=caches.start_time,
            keep=keep,
            protected=protected,
        )
        if outcome == "removed":
            state.tally.removed.append(path)
        elif outcome == "partial":
            state.tally.removed.append(f"{path} (cache files of this run only)")
        elif outcome == "kept":
            state.tally.kept.append(path)
