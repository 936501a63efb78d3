"""Warnings and errors of the result cache, in one place so callers can filter or catch them by class.

Policy (see docs/cache.md): on the executor's lookup path a damaged or foreign-version file is never fatal --
it is a miss, reported by one warning, and the next store replaces it.  The public functions that read a
specific entry on request (``get_future_from_cache``) raise instead, because there is no computation to
fall back on.
"""

from __future__ import annotations

from executor.errors import install_hint

INSTALL_HINT = install_hint("cache")


class CacheWarning(UserWarning):
    """Base class of every warning the cache emits."""


class CacheCorruptWarning(CacheWarning):
    """A cache file is truncated, damaged or cannot be unpickled; it is treated as a miss and rewritten."""


class CacheVersionWarning(CacheWarning):
    """A cache file was written in a format version this code does not read; treated as a miss."""


class CacheError(Exception):
    """Base class of the cache's errors."""


class CacheCorruptError(CacheError, OSError):
    """Raised when an entry that was asked for explicitly cannot be read."""


class CacheVersionError(CacheError, RuntimeError):
    """Raised when an entry that was asked for explicitly has an incompatible format version."""


class CachePendingError(CacheError, FileNotFoundError):
    """The task's input file exists but its output does not (yet): it is queued, running, or was lost.

    A subclass of ``FileNotFoundError`` so that code written for executorlib, which raises
    ``FileNotFoundError`` when a key is unknown, keeps working.
    """


def missing_h5py_error() -> ImportError:
    """The error raised when a cache is requested but h5py is not installed."""
    return ImportError(
        f"the HDF5 result cache (cache_directory=...) needs h5py, which is not installed; install the "
        f"'cache' extra: {INSTALL_HINT}"
    )
