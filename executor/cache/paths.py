"""File names of the cache, identical to executorlib's.

``<cache_directory>/<key>_i.h5`` holds a task's inputs (cluster executors), ``<cache_directory>/<key>_o.h5``
its output.  A key may contain ``/``: the files then live in sub-directories, as in executorlib.  Files being
written carry a ``.tmp`` suffix after the final name, so no reader (ours or executorlib's, which looks for
names ending in ``_o.h5`` / ``_i.h5``) ever picks up a half-written file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

OUTPUT_SUFFIX = "_o.h5"
INPUT_SUFFIX = "_i.h5"
TEMP_SUFFIX = ".tmp"


def output_path(cache_directory: str, key: str) -> str:
    """Path of the output file of ``key``.  Pass an absolute ``cache_directory`` on hot paths (no abspath here)."""
    return os.path.join(cache_directory, key + OUTPUT_SUFFIX)


def input_path(cache_directory: str, key: str) -> str:
    """Path of the input file of ``key`` (written by cluster executors before the job starts)."""
    return os.path.join(cache_directory, key + INPUT_SUFFIX)


def is_cache_file(name: str) -> bool:
    """True for a finished cache file name (input or output)."""
    return name.endswith(OUTPUT_SUFFIX) or name.endswith(INPUT_SUFFIX)


def is_temp_file(name: str) -> bool:
    """True for a temporary file left by an interrupted atomic write (``<key>_o.h5.<pid>-<n>.tmp``)."""
    if not name.endswith(TEMP_SUFFIX):
        return False
    stem = name[: -len(TEMP_SUFFIX)].rsplit(".", 1)[0]
    return is_cache_file(stem)


def key_of(cache_directory: str, file_name: str) -> str:
    """The cache key of a cache file: its path relative to the cache directory, without the suffix."""
    rel = os.path.relpath(file_name, cache_directory).replace(os.sep, "/")
    for suffix in (OUTPUT_SUFFIX, INPUT_SUFFIX):
        if rel.endswith(suffix):
            return rel[: -len(suffix)]
    return rel


def iter_cache_files(cache_directory: str, include_temp: bool = False) -> Iterator[str]:
    """Yield every cache file below ``cache_directory`` (absolute paths, sorted per directory)."""
    for dirpath, dirnames, filenames in os.walk(os.path.abspath(cache_directory)):
        dirnames.sort()
        for name in sorted(filenames):
            if is_cache_file(name) or (include_temp and is_temp_file(name)):
                yield os.path.join(dirpath, name)
