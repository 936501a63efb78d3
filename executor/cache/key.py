"""The cache key of a call -- byte-for-byte executorlib's, so both libraries find each other's files.

executorlib (``standalone/serialize.py``) uses ``resource_dict["cache_key"]`` when given, else
``<function name>`` + md5 of ``cloudpickle.dumps({"fn": fn, "args": args, "kwargs": kwargs})`` after blanking
the random part of Jupyter kernel paths (``.../ipykernel_<random>/...``) so a notebook call keeps its key
across kernel restarts.

The *type* of ``args`` is part of the hash.  executorlib passes the submitted ``args`` tuple (after Futures
are replaced by results, still a tuple) in SingleNode/SlurmJob/FluxJob executors, but a ``list`` in the
Cluster executors (file based).  So the same call has different keys in the two families, in executorlib and
therefore here: callers pass ``args`` exactly as executorlib would for the executor they implement.

Cost (measured, Python 3.11): ~4 µs for a module-level function, ~16 µs for a function pickled by value,
the md5 ~1 µs.  ``call_blob`` + ``key_from_blob`` split the two steps so a caller that needs the pickled call
anyway (e.g. to send it to a worker) pickles once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import cloudpickle

# The same pattern as executorlib: everything between "/ipykernel_" and the last "/" of the line is removed.
_IPYKERNEL_RANDOM = re.compile(rb"(?<=/ipykernel_)(.*)(?=/)")


def function_name(fn: Callable[..., Any]) -> str:
    """The readable prefix of a key: ``fn.__name__``, or the class name of a callable object."""
    try:
        return fn.__name__  # type: ignore[no-any-return]
    except AttributeError:
        # executorlib takes the last dotted part of "<class 'pkg.mod.Name'>"
        return str(fn.__class__).split("'")[-2].split(".")[-1]


def call_blob(fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]) -> bytes:
    """``cloudpickle.dumps({"fn": fn, "args": args, "kwargs": kwargs})`` -- the bytes the key hashes."""
    return cloudpickle.dumps({"fn": fn, "args": args, "kwargs": kwargs})


def hash_blob(blob: bytes) -> str:
    """md5 hex digest of ``blob`` with the Jupyter kernel path normalised, as executorlib does."""
    if b"/ipykernel_" in blob:  # skip the regex scan (a full pass over the bytes) in the common case
        blob = _IPYKERNEL_RANDOM.sub(b"", blob)
    return hashlib.md5(blob).hexdigest()


def key_from_blob(fn: Callable[..., Any], blob: bytes) -> str:
    """The key for a call whose ``call_blob`` is already computed."""
    return function_name(fn) + hash_blob(blob)


def task_key(
    fn: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    cache_key: str | None = None,
) -> str:
    """executorlib's key for ``fn(*args, **kwargs)``; ``cache_key`` (may contain ``/``) wins when given.

    Raises whatever cloudpickle raises for unpicklable arguments (executorlib sets that exception on the
    future; the caller should do the same).
    """
    if cache_key is not None:
        return cache_key
    return key_from_blob(fn, call_blob(fn, args, kwargs))
