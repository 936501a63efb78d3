"""HDF5 result cache, file-compatible with executorlib.

```
executor core ── ResultCache(dir)  (or the functions below directly)
             ── key.task_key(fn, args, kwargs, cache_key) ──► "<fn name><md5>" or the user's cache_key
             ── paths.output_path(dir, key) ──────────────────► <dir>/<key>_o.h5
             ── store.load_output(path) ── hit ──► resolve the future, no worker started
                                         └ miss ─► run the call; on success:
             ── store.store_output(path, pickled output, function=..., input_args=..., ...) (atomic)
```

Modules: ``result_cache`` (the executor's entry point), ``key`` (executorlib's cache key), ``paths`` (file names), ``h5image`` (writes HDF5 bytes without the
HDF5 library), ``store`` (atomic writes, byte-offset reads, damaged/foreign-version policy), ``h5py_reader``
(slow path for files written by executorlib), ``api`` (executorlib's public cache functions), ``errors``.
See docs/cache.md.
"""

from __future__ import annotations

from executor.cache.errors import (
    CacheCorruptError,
    CacheCorruptWarning,
    CacheError,
    CachePendingError,
    CacheVersionError,
    CacheVersionWarning,
    CacheWarning,
)
from executor.cache.h5py_reader import require_h5py
from executor.cache.key import call_blob, key_from_blob, task_key
from executor.cache.paths import input_path, output_path
from executor.cache.result_cache import ResultCache
from executor.cache.store import (
    FORMAT_VERSION,
    add_datasets,
    load_output,
    pickle_value,
    read_file,
    store_output,
    write_file,
)

__all__ = [
    "FORMAT_VERSION",
    "ResultCache",
    "CacheCorruptError",
    "CacheCorruptWarning",
    "CacheError",
    "CachePendingError",
    "CacheVersionError",
    "CacheVersionWarning",
    "CacheWarning",
    "add_datasets",
    "call_blob",
    "input_path",
    "key_from_blob",
    "load_output",
    "output_path",
    "pickle_value",
    "read_file",
    "require_h5py",
    "store_output",
    "task_key",
    "write_file",
]
