"""Futures passed as arguments: find them, wait for them (without a thread), substitute their results.

Futures may sit anywhere in ``args``/``kwargs``: directly, or nested in lists, tuples and dict values.  When
all are done, the callback runs in the thread that finished the last one; nothing polls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from typing import Any


def find_futures(obj: Any, found: list[Future[Any]]) -> list[Future[Any]]:
    """Append every Future inside ``obj`` to ``found`` (and return it)."""
    cls = type(obj)
    if cls in (list, tuple):
        for item in obj:
            find_futures(item, found)
    elif cls is dict:
        for item in obj.values():
            find_futures(item, found)
    elif isinstance(obj, Future):
        found.append(obj)
    elif isinstance(obj, (list, tuple, dict)):  # subclasses (namedtuples, OrderedDict, ...) are rarer: slow path
        for item in obj.values() if isinstance(obj, dict) else obj:
            find_futures(item, found)
    return found


def substitute(obj: Any, replace: Callable[[Future[Any]], Any] = Future.result) -> Any:
    """A copy of ``obj`` with each Future replaced by ``replace(future)`` (its result by default; containers
    are rebuilt, other objects shared)."""
    if isinstance(obj, Future):
        return replace(obj)
    cls = type(obj)
    if cls is list:
        return [substitute(item, replace) for item in obj]
    if cls is tuple:
        return tuple(substitute(item, replace) for item in obj)
    if cls is dict:
        return {key: substitute(item, replace) for key, item in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
        return cls(*(substitute(item, replace) for item in obj))
    if isinstance(obj, (list, tuple)):
        return cls(substitute(item, replace) for item in obj)
    if isinstance(obj, dict):
        return cls((key, substitute(item, replace)) for key, item in obj.items())
    return obj


def first_failure(futures: list[Future[Any]]) -> BaseException | None:
    """The exception of the first failed (or cancelled) input, if any."""
    for future in futures:
        if future.cancelled():
            return CancelledError(f"an input of this call was cancelled: {future!r}")
        error = future.exception()
        if error is not None:
            return error
    return None


def when_done(futures: list[Future[Any]], callback: Callable[[], None]) -> None:
    """Call ``callback()`` once, when all ``futures`` are done."""
    remaining = [len(futures)]
    lock = threading.Lock()

    def one_done(_: Future[Any]) -> None:
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            callback()

    for future in futures:
        future.add_done_callback(one_done)
