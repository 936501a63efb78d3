"""``ResultCache``: the three calls an executor makes, bound to one cache directory.

```
cache = ResultCache(cache_directory)             # ImportError naming the 'cache' extra if h5py is missing
key = cache.key(fn, args, kwargs, cache_key)     # executorlib's key (args: tuple for SingleNode/Job
                                                 #   executors, list for Cluster executors)
hit, value = cache.lookup(key)                   # ~10 µs; damaged/foreign-version files: warning + miss
...run the call; only on success:
cache.store(key, output_bytes, fn, args, kwargs, resource_dict, runtime)   # atomic
```

``output_bytes`` is the pickled result as it arrived from the worker, stored as is (never unpickled and
pickled again).  The inputs are pickled here, once, on the cold path only: executorlib's ``get_cache_data``
shows them, so they are stored as executorlib stores them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from executor.cache import key as _key
from executor.cache import paths, store
from executor.cache.h5py_reader import require_h5py


class ResultCache:
    """A cache directory as the executor sees it (thread-safe: no mutable state beyond the path)."""

    def __init__(self, cache_directory: str | os.PathLike[str]) -> None:
        require_h5py()  # fail where the user asked for a cache, not at the first foreign file
        self.directory = os.path.abspath(cache_directory)

    def __repr__(self) -> str:
        return f"ResultCache({self.directory!r})"

    def key(
        self,
        fn: Callable[..., Any],
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        cache_key: str | None = None,
    ) -> str:
        """executorlib's key of the call (``cache_key`` wins when given)."""
        return _key.task_key(fn, args, kwargs, cache_key)

    def output_path(self, key: str) -> str:
        return paths.output_path(self.directory, key)

    def input_path(self, key: str) -> str:
        return paths.input_path(self.directory, key)

    def lookup(self, key: str) -> tuple[bool, Any]:
        """``(True, result)`` on a hit, ``(False, None)`` on a miss; never raises for a bad file."""
        return store.load_output(paths.output_path(self.directory, key))

    def store(
        self,
        key: str,
        output: bytes,
        fn: Callable[..., Any] | None = None,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        resource_dict: Mapping[str, Any] | None = None,
        runtime: float | None = None,
    ) -> None:
        """Atomically write the output file of ``key``; ``output`` is the already pickled result."""
        pickle = store.pickle_value
        store.store_output(
            paths.output_path(self.directory, key),
            output,
            function=None if fn is None else pickle(fn),
            input_args=None if args is None else pickle(args),
            input_kwargs=None if kwargs is None else pickle(kwargs),
            resource_dict=None if resource_dict is None else pickle(resource_dict),
            runtime=None if runtime is None else pickle(runtime),
            function_name=None if fn is None else _key.function_name(fn),
        )
