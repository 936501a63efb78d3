"""Futures for one item of another future's result: ``split_future``, ``get_item_from_future``."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any


class FutureSelector(Future):  # type: ignore[type-arg]
    """A Future that resolves to ``source.result()[selector]`` (or fails as ``source`` fails).

    It is a real Future of its own, chained to the source with a done-callback, so it can be awaited,
    passed as an argument to ``submit()`` and given to ``concurrent.futures.wait``.  ``set_result(value)`` sets
    the source's result, as executorlib's does; this future then holds ``value[selector]``.
    """

    def __init__(self, future: Future[Any], selector: int | str) -> None:
        super().__init__()
        self._source = future
        self._selector = selector
        future.add_done_callback(self._copy)

    def _copy(self, source: Future[Any]) -> None:
        if source.cancelled():
            self.cancel()
            return
        error = source.exception()
        if error is not None:
            self.set_exception(error)
            return
        result = source.result()
        try:
            Future.set_result(self, None if result is None else result[self._selector])
        except Exception as lookup_error:
            self.set_exception(lookup_error)

    def set_result(self, result: Any) -> None:
        """Set the *source's* result (as executorlib's selector, which forwards to its future): this future and
        its siblings then resolve to their items, ``set_result([1, 2])`` with selector 1 giving ``2``."""
        self._source.set_result(result)

    def __repr__(self) -> str:
        return f"<FutureSelector [{self._selector!r}] of {self._source!r}>"


def split_future(future: Future[Any], n: int) -> list[FutureSelector]:
    """One future per element of a result that is a tuple or list of ``n`` items."""
    return [FutureSelector(future, i) for i in range(n)]


def get_item_from_future(future: Future[Any], key: str) -> FutureSelector:
    """A future for ``future.result()[key]`` (the result being a dict)."""
    return FutureSelector(future, key)
