"""The call log: what the front end remembers about each ``submit()`` when someone asked for a graph.

A :class:`CallLog` is attached to an executor in two cases only: plot mode (``plot_dependency_graph=True``,
``plot_dependency_graph_filename=`` or ``export_workflow_filename=``: nothing runs, the log *is* the result)
and recording mode (the pytest plugin's ``--xlib-graph=DIR``: calls run as usual and the log adds each call's
end state and duration).  Without either the front end holds ``None`` and pays one attribute test per call.

A record keeps the function, the arguments as given (futures included: they are the edges) and the call's
own future.  In recording mode a done-callback stamps the end time and state; a call resolved from the cache
is marked by the front end before its future is resolved, so the callback sees the mark.

Recording is switched on for executors *built* inside :func:`recording` (a context variable, so a log never
leaks to executors other threads build), which is how the pytest fixtures hand each test its own log.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextvars import ContextVar
from typing import Any

#: Node states written by the recording mode.
STATES = ("done", "failed", "cancelled", "cache hit", "pending")


class Call:
    """One ``submit()``: function, arguments as given, its future and (recording mode) timing and state."""

    __slots__ = ("fn", "args", "kwargs", "future", "submitted", "finished", "state", "error")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], future: Future[Any]) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.future = future
        self.submitted = time.monotonic()
        self.finished: float | None = None
        self.state = "pending"
        self.error: str | None = None


class CallLog:
    """The calls of one executor (or of all executors of one test), in submission order."""

    def __init__(self, track: bool = True) -> None:
        self.calls: list[Call] = []
        self.track = track  # stamp end state and time (recording mode); plot mode futures are done at once
        self._by_future: dict[Future[Any], Call] = {}
        self._hits: set[Future[Any]] = set()
        self._lock = threading.Lock()

    def add(self, future: Future[Any], fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
        call = Call(fn, args, kwargs, future)
        with self._lock:
            self.calls.append(call)
            self._by_future[future] = call
        if self.track:
            future.add_done_callback(self._finished)
        return call

    def cache_hit(self, future: Future[Any]) -> None:
        """Mark the call of ``future`` as resolved from the cache (called before the future is resolved)."""
        with self._lock:
            self._hits.add(future)

    def call_of(self, future: Future[Any]) -> Call | None:
        return self._by_future.get(future)

    def _finished(self, future: Future[Any]) -> None:
        call = self._by_future.get(future)
        if call is None:
            return
        call.finished = time.monotonic()
        if future.cancelled():
            call.state = "cancelled"
        elif future.exception() is not None:
            call.state = "failed"
            error = future.exception()
            call.error = f"{type(error).__name__}: {error}"
        elif future in self._hits:
            call.state = "cache hit"
        else:
            call.state = "done"

    def started(self, call: Call) -> float:
        """When ``call`` could start: its submission, or the end of its last input call if that came later."""
        from executor.graph.nodes import source_futures

        start = call.submitted
        for future in source_futures((call.args, call.kwargs)):
            source = self._by_future.get(future)
            if source is not None and source.finished is not None:
                start = max(start, source.finished)
        return start


_current: ContextVar[CallLog | None] = ContextVar("xlib_graph_log", default=None)


def current() -> CallLog | None:
    """The log that executors built now should record into (``None``: no recording, the default)."""
    return _current.get()


@contextlib.contextmanager
def recording(log: CallLog) -> Iterator[CallLog]:
    """Executors built inside this block record their calls (with state and duration) into ``log``."""
    token = _current.set(log)
    try:
        yield log
    finally:
        _current.reset(token)
