"""The record of one submitted call, as the scheduler sees it."""

from __future__ import annotations

import itertools
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

_ids = itertools.count(1)


@dataclass(eq=False)
class CacheEntry:
    """A call whose result goes into a cache file when it succeeds."""

    cache: Any  # executor.cache.ResultCache
    key: str
    fn: Any
    args: Any
    kwargs: Any

    def store(self, output: bytes, resources: dict[str, Any], runtime: float) -> None:
        self.cache.store(self.key, output, self.fn, self.args, self.kwargs, resources, runtime)


@dataclass(eq=False)
class Task:
    future: Future[Any]
    payload: Any  # (cloud)pickle of (fn, args, kwargs), made in the caller's thread: bytes or (bytes, buffers)
    fn_name: str
    resources: dict[str, Any]  # validated and merged; never the caller's dict
    cost: int = 1  # slots: cores * threads_per_core
    priority: int = 0
    attempts: int = 0  # how often a worker died while running it
    sent_at: float = 0.0  # monotonic time it was sent to a worker
    cache: CacheEntry | None = None  # where to store the result (cache miss)
    log_size: bool = False  # log_obj_size: log the pickled size of its inputs and output
    dispatched: bool = False  # its future was set running (a requeued call keeps that state)
    task_id: int = field(default_factory=lambda: next(_ids))

    @property
    def seq(self) -> int:
        """Submission order (equal priorities start in this order)."""
        return self.task_id
