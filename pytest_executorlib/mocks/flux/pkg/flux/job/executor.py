"""``flux.job.FluxExecutor`` and ``FluxExecutorFuture`` (flux-core 0.88 semantics) over a mock instance.

One worker thread per executor (``threads`` is accepted, one suffices: the mock never blocks on an RPC)
submits queued packages, then waits -- event-driven, on a :class:`~pytest_executorlib.mocks.flux.state.Watcher`
the broker wakes -- and dispatches every new eventlog entry of its jobs to their futures: event callbacks
(with replay of past events), ``jobid()``, a fatal ``exception`` -> ``JobException``, ``clean`` -> the result
(the highest task exit code; ``-signum`` for a signalled shell).  As in flux, ``cancel()`` only cancels a
package still queued in the executor; a submitted job keeps running (use ``flux.job.cancel``).  If the broker
disappears without a word (killed), the thread notices within :data:`LIVENESS_INTERVAL` seconds and fails the
futures with ConnectionResetError.
"""

from __future__ import annotations

import collections
import concurrent.futures
import os
import threading
import weakref
from typing import Any

import flux
from flux.job.event import MAIN_EVENTS, EventLogEvent, JobException
from flux.job.JobID import JobID

from pytest_executorlib.mocks.flux import client, state
from pytest_executorlib.mocks.slurm.common import notify

LIVENESS_INTERVAL = 2.0


class FluxExecutorFuture(concurrent.futures.Future):  # type: ignore[type-arg]
    EVENTS = MAIN_EVENTS

    def __init__(self, owning_thread_id: int | None = None) -> None:
        super().__init__()
        self._owner: int | None = owning_thread_id
        self._jobid: JobID | None = None
        self._jobid_set = threading.Event()
        self._submit_error: BaseException | None = None
        self._events: list[EventLogEvent] = []
        self._event_callbacks: dict[str, list[Any]] = collections.defaultdict(list)
        self._jobid_callbacks: list[Any] = []
        self._cb_lock = threading.RLock()
        self._status: int | None = None

    # --- job id ----------------------------------------------------------------------------------------------
    def jobid(self, timeout: float | None = None) -> JobID:
        if not self._jobid_set.wait(timeout):
            raise concurrent.futures.TimeoutError(f"job id not available after {timeout} s")
        if self.cancelled() and self._jobid is None:
            raise concurrent.futures.CancelledError()
        if self._submit_error is not None:
            raise RuntimeError(f"job could not be submitted due to {self._submit_error!r}")
        assert self._jobid is not None
        return self._jobid

    def add_jobid_callback(self, callback: Any) -> FluxExecutorFuture:
        with self._cb_lock:
            if self._jobid is None:
                self._jobid_callbacks.append(callback)
                return self
        callback(self)
        return self

    def _set_jobid(self, jobid: JobID | None, error: BaseException | None = None) -> None:
        with self._cb_lock:
            self._jobid, self._submit_error = jobid, error
            self._jobid_set.set()
            callbacks, self._jobid_callbacks = self._jobid_callbacks, []
        if error is not None:
            self.set_exception(error)
        for cb in callbacks:
            cb(self)

    def cancel(self) -> bool:
        done = super().cancel()
        if done:
            self._jobid_set.set()
        return done

    # --- events ----------------------------------------------------------------------------------------------
    def add_event_callback(self, event: str, callback: Any) -> FluxExecutorFuture:
        if event not in self.EVENTS:
            raise ValueError(f"{event} not among {sorted(self.EVENTS)}")
        with self._cb_lock:
            self._event_callbacks[event].append(callback)
            past = [e for e in self._events if e.name == event]
        for e in past:
            callback(self, e)
        return self

    def _dispatch(self, event: EventLogEvent) -> None:
        with self._cb_lock:
            self._events.append(event)
            callbacks = list(self._event_callbacks.get(event.name, ()))
        for cb in callbacks:
            cb(self, event)
        if event.name == "exception" and event.context.get("severity") == 0 and not self.done():
            self.set_exception(JobException(event))
        elif event.name == "finish":
            self._status = int(event.context.get("status", 0))
        elif event.name == "clean" and not self.done():
            status = self._status or 0
            self.set_result(-os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))

    def add_done_callback(self, fn: Any) -> FluxExecutorFuture:  # type: ignore[override]
        super().add_done_callback(fn)
        return self

    def _check_thread(self) -> None:
        if self._owner is not None and threading.get_ident() == self._owner:
            raise RuntimeError("Cannot wait for future from inside callback")

    def result(self, timeout: float | None = None) -> Any:
        self._check_thread()
        return super().result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self._check_thread()
        return super().exception(timeout)


class _Worker:
    """What the worker thread owns (not the executor: an unreferenced executor is shut down by its finalizer)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.lock = threading.Lock()
        self.queue: collections.deque[tuple[FluxExecutorFuture, str, tuple[Any, ...], dict[str, Any]]] = \
            collections.deque()
        self.shutdown = False
        self.inst: client.Instance | None = None
        self.watcher: state.Watcher | None = None
        self.ready = threading.Event()
        self.active: dict[int, FluxExecutorFuture] = {}
        self.seq = 0

    def wake(self) -> None:
        if self.watcher is not None:
            self.watcher.wake()

    def run(self) -> None:
        self.inst = client.Instance(self.root)
        self.watcher = state.Watcher(self.root, self.inst.conn)
        self.seq = self.inst.conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
        self.ready.set()
        try:
            while True:
                self._take_packages()
                self._read_events()
                with self.lock:
                    if self.shutdown and not self.queue and not self.active:
                        return
                if not self.watcher.wait(LIVENESS_INTERVAL) and self.active and not self._broker_alive():
                    error = ConnectionResetError(f"the flux broker of {self.inst.uri} is gone")
                    for fut in self.active.values():
                        if not fut.done():
                            fut.set_exception(error)
                    self.active.clear()
        finally:
            self.watcher.close()
            self.inst.close()

    def _broker_alive(self) -> bool:
        return notify(state.broker_address(self.root)) and not self.inst.stopped()  # type: ignore[union-attr]

    def _take_packages(self) -> None:
        assert self.inst is not None
        while True:
            with self.lock:
                if not self.queue:
                    return
                fut, kind, args, kwargs = self.queue.popleft()
            if not fut.set_running_or_notify_cancel():
                continue
            if kind == "attach":
                jobid = JobID(args[0])
                if self.inst.job(jobid) is None:
                    fut._set_jobid(None, FileNotFoundError(2, "No such file or directory"))
                    continue
                fut._set_jobid(jobid)
                self.active[int(jobid)] = fut
                for s, name, ts, ctx in self.inst.events(jobid):
                    if s <= self.seq:
                        fut._dispatch(EventLogEvent({"name": name, "timestamp": ts, "context": ctx}))
                if fut.done():
                    self.active.pop(int(jobid), None)
                continue
            try:
                from flux.job.calls import submit

                jobid = submit(_Handle(self.inst), *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - reported through jobid()/result(), as flux does
                fut._set_jobid(None, exc)
                continue
            self.active[int(jobid)] = fut
            fut._set_jobid(jobid)

    def _read_events(self) -> None:
        assert self.inst is not None
        rows = self.inst.conn.execute("SELECT seq, jobid, name, timestamp, context FROM events WHERE seq>? ORDER BY seq",
                                      (self.seq,)).fetchall()
        import json

        for seq, jobid, name, ts, ctx in rows:
            self.seq = seq
            fut = self.active.get(jobid)
            if fut is None or name not in MAIN_EVENTS:
                continue
            fut._dispatch(EventLogEvent({"name": name, "timestamp": ts, "context": json.loads(ctx)}))
            if name == "clean" or fut.done() and name == "clean":
                self.active.pop(jobid, None)


class _Handle:
    def __init__(self, inst: client.Instance) -> None:
        self.instance = inst


def _stop(worker: _Worker) -> None:
    with worker.lock:
        worker.shutdown = True
    worker.wake()


class FluxExecutor:
    """``FluxExecutor(threads=1, thread_name_prefix="", poll_interval=0.1, handle_args=(), handle_kwargs={})``."""

    def __init__(self, threads: int = 1, thread_name_prefix: str = "", poll_interval: float = 0.1,
                 handle_args: tuple[Any, ...] = (), handle_kwargs: dict[str, Any] | None = None) -> None:
        handle = flux.Flux(*handle_args, **(handle_kwargs or {}))  # FileNotFoundError outside an instance
        self._worker = _Worker(handle.instance.root)
        handle.close()
        self._thread = threading.Thread(target=self._worker.run, daemon=True,
                                        name=f"{thread_name_prefix or 'FluxExecutor'}-0")
        self._thread.start()
        self._worker.ready.wait()
        self._finalizer = weakref.finalize(self, _stop, self._worker)

    def _put(self, kind: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> FluxExecutorFuture:
        fut = FluxExecutorFuture(self._thread.ident)
        with self._worker.lock:
            if self._worker.shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._worker.queue.append((fut, kind, args, kwargs))
        self._worker.wake()
        return fut

    def submit(self, *args: Any, **kwargs: Any) -> FluxExecutorFuture:
        """``submit(jobspec, urgency=16, waitable=False, debug=False, pre_signed=False, novalidate=False)``."""
        return self._put("submit", args, kwargs)

    def attach(self, jobid: int | str) -> FluxExecutorFuture:
        return self._put("attach", (jobid,), {})

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._worker.lock:
            self._worker.shutdown = True
            if cancel_futures and self._worker.queue:
                # flux-core 0.88 calls fut.set_running_or_notify_cancelled() here (a typo): reproduced.
                raise AttributeError("'FluxExecutorFuture' object has no attribute 'set_running_or_notify_cancelled'")
        self._worker.wake()
        if wait:
            self._thread.join()

    def __enter__(self) -> FluxExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown(wait=True)
