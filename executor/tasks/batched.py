"""``executor.batched(futures, n)``: futures that each resolve to the next ``n`` results, in completion order;
``in_order``: the lazy results of ``Executor.map``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import Any


def batched(futures: list[Future[Any]], n: int) -> list[Future[list[Any]]]:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"batched() needs a batch size n >= 1, got {n!r}")
    futures = list(futures)
    batches: list[Future[list[Any]]] = [Future() for _ in range((len(futures) + n - 1) // n)]
    state = {"filled": 0, "buffer": [], "done": 0, "error": None}
    lock = threading.Lock()

    def flush(force: bool) -> list[tuple[Future[list[Any]], list[Any]]]:
        ready = []
        while state["filled"] < len(batches) and (len(state["buffer"]) >= n or (force and state["buffer"])):
            ready.append((batches[state["filled"]], state["buffer"][:n]))
            del state["buffer"][:n]
            state["filled"] += 1
        return ready

    def on_done(future: Future[Any]) -> None:
        with lock:
            state["done"] += 1
            if future.cancelled() or future.exception() is not None:
                if state["error"] is None:
                    state["error"] = future.exception() if not future.cancelled() else RuntimeError("cancelled")
            else:
                state["buffer"].append(future.result())
            last = state["done"] == len(futures)
            ready = flush(force=last)
            failed = batches[state["filled"] :] if last else []
        for batch, values in ready:
            batch.set_result(values)
        for batch in failed:  # inputs failed, so these batches can never be filled
            batch.set_exception(state["error"])

    for future in futures:
        future.add_done_callback(on_done)
    return batches


def in_order(
    submit: Callable[..., Future[Any]], fn: Callable[..., Any], iterables: tuple[Iterable[Any], ...], timeout: float | None, chunksize: int
) -> Iterator[Any]:
    """``Executor.map``: submit every call now, yield the results lazily in input order (futures as iterables are
    waited for first); the calls not consumed when the iterator is closed are cancelled."""
    if isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1:
        raise ValueError(f"chunksize must be an int >= 1, got {chunksize!r}")
    iterables = tuple(it.result() if isinstance(it, Future) else it for it in iterables)
    deadline = None if timeout is None else time.monotonic() + timeout
    futures = [submit(fn, *args) for args in zip(*iterables)]

    def results() -> Iterator[Any]:
        try:
            futures.reverse()
            while futures:
                remaining = None if deadline is None else deadline - time.monotonic()
                yield futures.pop().result(remaining)
        finally:
            for future in futures:
                future.cancel()

    return results()
