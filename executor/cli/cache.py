"""``python -m executor cache list|clean|find``: look at, prune and locate result caches.

executorlib never removes its cache (its trouble-shooting guide asks users to clean up by hand), so caches are
forgotten in project trees.  ``find`` locates them, ``list`` shows what one holds, ``clean`` removes entries,
optionally only old ones.  Files are recognised by name (``*_o.h5`` / ``*_i.h5``, plus ``*.tmp`` leftovers of
interrupted writes); ``clean`` additionally skips readable HDF5 files that hold none of executorlib's datasets,
so it does not delete an unrelated file that merely ends in ``_o.h5``.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

from executor.cache import paths, store
from executor.cache.errors import CacheCorruptError, CacheVersionError
from executor.cache.key import function_name

#: Temporary files younger than this may belong to a write in progress; ``clean`` leaves them alone.
TEMP_GRACE_SECONDS = 60.0
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", "node_modules", ".tox", ".nox", ".mypy_cache"}


def parse_age(text: str) -> float:
    """``"30m"`` -> 1800.0; units s, m, h, d, w; a bare number means seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text.lower())
    if not match:
        raise argparse.ArgumentTypeError(f"invalid age {text!r}: use a number with a unit, e.g. 30m, 2h, 7d")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def format_age(seconds: float) -> str:
    """Compact age: ``42s``, ``5m``, ``3h``, ``12d``."""
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def format_size(n: int) -> str:
    """Human-readable size with binary units."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


@dataclass
class Entry:
    """What ``list`` shows for one key (its ``_i.h5`` and ``_o.h5`` together)."""

    key: str
    function: str
    status: str
    size: int
    mtime: float


def _describe(file_name: str) -> tuple[str, str]:
    """Return ``(function, status)`` of one cache file without failing."""
    try:
        content = store.read_file(file_name)
    except CacheVersionError:
        return "?", "incompatible version"
    except CacheCorruptError:
        return "?", "damaged"
    except ImportError:
        return "?", "unreadable (needs h5py)"
    except OSError as exc:
        return "?", f"unreadable ({exc.strerror or exc})"
    name = content.meta.get("function")
    if name is None and "function" in content.datasets:
        try:
            name = function_name(content.load("function"))
        except Exception:
            name = "?"
    if "output" in content.datasets:
        status = "done"
    elif "error" in content.datasets:
        status = "error"
    elif "queue_id" in content.datasets:
        try:
            status = f"queued/running (job {content.load('queue_id')})"
        except Exception:
            status = "queued/running"
    else:
        status = "pending"
    if not any(n in content.datasets for n in store.DATASET_NAMES):
        status = "not a cache file"
    return name or "?", status


def collect(directory: str) -> list[Entry]:
    """One ``Entry`` per key below ``directory``, sorted by key."""
    by_key: dict[str, list[str]] = {}
    for file_name in paths.iter_cache_files(directory):
        by_key.setdefault(paths.key_of(os.path.abspath(directory), file_name), []).append(file_name)
    entries = []
    for key, files in sorted(by_key.items()):
        out = [f for f in files if f.endswith(paths.OUTPUT_SUFFIX)]
        function, status = _describe(out[0] if out else files[0])
        if not out and status == "done":
            status = "done (input file only)"
        size = mtime = 0
        for f in files:
            try:
                st = os.stat(f)
            except FileNotFoundError:
                continue
            size += st.st_size
            mtime = max(mtime, st.st_mtime)
        entries.append(Entry(key, function, status, size, mtime))
    return entries


def _table(rows: list[tuple[str, ...]], out: TextIO) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() + "\n")


def cmd_list(directory: str, out: TextIO) -> int:
    if not os.path.isdir(directory):
        raise SystemExit(f"error: {directory} is not a directory")
    entries = collect(directory)
    if not entries:
        out.write(f"no cache files in {directory}\n")
        return 0
    now = time.time()
    rows = [("KEY", "FUNCTION", "STATUS", "SIZE", "AGE")]
    rows += [(e.key, e.function, e.status, format_size(e.size), format_age(now - e.mtime)) for e in entries]
    _table(rows, out)
    out.write(f"{len(entries)} entries, {format_size(sum(e.size for e in entries))} in {directory}\n")
    return 0


def _removal_candidates(directory: str, older_than: float | None, now: float) -> Iterable[tuple[str, int]]:
    for file_name in paths.iter_cache_files(directory, include_temp=True):
        try:
            st = os.stat(file_name)
        except FileNotFoundError:
            continue
        age = now - st.st_mtime
        if older_than is not None and age < older_than:
            continue
        if paths.is_temp_file(os.path.basename(file_name)):
            if age < TEMP_GRACE_SECONDS:
                continue
        elif _describe(file_name)[1] == "not a cache file":
            continue
        yield file_name, st.st_size


def cmd_clean(directory: str, older_than: float | None, dry_run: bool, out: TextIO) -> int:
    if not os.path.isdir(directory):
        raise SystemExit(f"error: {directory} is not a directory")
    now = time.time()
    count = total = 0
    emptied: set[str] = set()
    verb = "would remove" if dry_run else "removed"
    for file_name, size in list(_removal_candidates(directory, older_than, now)):
        if not dry_run:
            try:
                os.remove(file_name)
            except FileNotFoundError:
                continue
            emptied.add(os.path.dirname(file_name))
        out.write(f"{verb} {file_name} ({format_size(size)})\n")
        count += 1
        total += size
    # Drop sub-directories that the removal emptied (keys with "/"), up to but never including the root.
    root = os.path.abspath(directory)
    for dirpath in sorted(emptied, key=len, reverse=True):
        while dirpath != root and dirpath.startswith(root + os.sep):
            try:
                os.rmdir(dirpath)
            except OSError:
                break
            dirpath = os.path.dirname(dirpath)
    out.write(f"{verb} {count} files, {format_size(total)}\n")
    return 0


@dataclass
class FoundCache:
    path: str
    files: int
    size: int
    newest: float


def find_caches(root: str) -> list[FoundCache]:
    """Directories below ``root`` that hold cache files, each merged into its nearest such ancestor."""
    found: dict[str, FoundCache] = {}
    for dirpath, dirnames, filenames in os.walk(os.path.abspath(root)):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        names = [n for n in filenames if paths.is_cache_file(n) or paths.is_temp_file(n)]
        if not names:
            continue
        owner = dirpath
        parent = dirpath
        while True:  # a cache with keys containing "/" spans sub-directories: report its top
            parent_next = os.path.dirname(parent)
            if parent_next == parent:
                break
            parent = parent_next
            if parent in found:
                owner = parent
                break
        entry = found.setdefault(owner, FoundCache(owner, 0, 0, 0.0))
        for name in names:
            try:
                st = os.stat(os.path.join(dirpath, name))
            except FileNotFoundError:
                continue
            entry.files += 1
            entry.size += st.st_size
            entry.newest = max(entry.newest, st.st_mtime)
    return sorted(found.values(), key=lambda c: c.path)


def cmd_find(root: str, out: TextIO) -> int:
    if not os.path.isdir(root):
        raise SystemExit(f"error: {root} is not a directory")
    caches = find_caches(root)
    if not caches:
        out.write(f"no cache directories below {root}\n")
        return 0
    now = time.time()
    rows = [("DIRECTORY", "FILES", "SIZE", "NEWEST")]
    rows += [(c.path, str(c.files), format_size(c.size), format_age(now - c.newest)) for c in caches]
    _table(rows, out)
    out.write(f"{len(caches)} cache directories, {format_size(sum(c.size for c in caches))} in total\n")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``cache`` and its sub-commands on the top-level parser."""
    cache = subparsers.add_parser("cache", help="Inspect, clean and find HDF5 result caches")
    commands = cache.add_subparsers(dest="cache_command", metavar="{list,clean,find}")
    commands.required = True
    p_list = commands.add_parser("list", help="Show the entries of a cache directory")
    p_list.add_argument("directory", nargs="?", default=".", metavar="DIR", help="Cache directory (default: .)")
    p_clean = commands.add_parser("clean", help="Remove cache files")
    p_clean.add_argument("directory", nargs="?", default=".", metavar="DIR", help="Cache directory (default: .)")
    p_clean.add_argument(
        "--older-than", type=parse_age, default=None, metavar="AGE",
        help="Only remove files not modified for AGE, e.g. 30m, 2h, 7d",
    )
    p_clean.add_argument("--dry-run", action="store_true", help="Print what would be removed, remove nothing")
    p_find = commands.add_parser("find", help="Locate cache directories below a tree, with their total size")
    p_find.add_argument("root", nargs="?", default=".", metavar="ROOT", help="Tree to search (default: .)")


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Dispatch a parsed ``cache`` command."""
    if args.cache_command == "list":
        return cmd_list(args.directory, out)
    if args.cache_command == "clean":
        return cmd_clean(args.directory, args.older_than, args.dry_run, out)
    return cmd_find(args.root, out)
