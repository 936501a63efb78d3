"""The file-queue scheduler of the cluster executors: one batch job per call, results through cache files.

Layer: schedulers (the ``EventLoop``, ``results``; the queue adapter and the job command from spawners and worker).

::

    submit ─► FileCall ─post─► loop thread: add()
                                 ├ _o.h5 exists ───────────────► cache hit, no job
                                 ├ _i.h5 (or _r.h5) with a queue id ─► adopt the job (reconnect, no sbatch)
                                 ├ an input future failed ────► fail at once
                                 ├ an input is another pending call of ours ─► OutputRef + queue dependency
                                 ├ another pending future ─────► wait for it (done-callback, no polling)
                                 └ write _i.h5, sbatch / flux batch, store queue_id
                               poll timer (backoff 20 ms -> 0.5 s, reset by any change):
                                 stat every waiting _o.h5 ─► resolve / fail (errors are not cached results)
                                 at most every STATUS_INTERVAL s, ONE squeue / flux jobs for all jobs:
                                   a job no longer listed (or ended, flux) and still no _o.h5 ─► fail, naming
                                   the job, its final state and the end of its output file (adopted: resubmit)
                                   squeue failing: retried with backoff, reported after STATUS_FAILURES tries

A failed call fails its dependents at once and cancels their jobs (SLURM would keep them PENDING for ever).
A cancelled future, ``shutdown(cancel_futures=True)`` and a loop failure cancel the jobs; ``wait=False`` leaves
them running (futures are cancelled, the files stay for a later executor to reconnect to).

Length: a little longer than 300 lines because placing, submitting, watching and failing a call share the
call table and its states (``submitting``, ``waiters``, ``children``); the records and file helpers are in
``file_calls``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from executor.cache import key as cache_key
from executor.cache import store
from executor.schedulers.loop import EventLoop
from executor.schedulers.results import fail
from executor.spawners.pysqa import FLUX_ENDED, QueueAdapter
from executor.schedulers.file_calls import (
    FileCall, QueueJobError, Ref, call_name, input_datasets, nested_pending, queue_id, read_outcome, remove, submit_options, tail,
)  # fmt: skip
from executor.worker.cache_job import OutputRef

POLL_MIN, POLL_MAX = 0.02, 0.5
SUBMITTERS = 4  # sbatch / flux batch commands running at once
STATUS_INTERVAL = 1.0  # seconds between two queue listings (one command for all jobs)
STATUS_FAILURES = 6  # consecutive failed listings (backoff 1, 2, 4, 8, 16 s) before the calls fail


class FileScheduler:
    """The front end's scheduler (``accepting``, ``alive``, ``track``, ``shutdown``, ``join``) and the loop's
    ``LoopPolicy``."""

    def __init__(self, adapter: QueueAdapter, command: Callable[[str, dict[str, Any]], str], wait: bool) -> None:
        self.adapter = adapter
        self.command = command  # (input file, resources) -> the job's command line
        self.wait = wait
        self.calls: dict[Future[Any], FileCall] = {}  # submitted, waiting for the output file
        self.blocked: set[FileCall] = set()  # waiting for foreign input futures
        self.loop = EventLoop(self, "cluster")
        self._delay = POLL_MIN
        self._poll_at: float | None = None
        self._status_at = 0.0
        self._status_failures = 0
        self._detached = False
        self._inflight = 0
        self._pool = ThreadPoolExecutor(SUBMITTERS, thread_name_prefix="executor-sbatch")
        self.loop.start()

    # ---- front end (any thread) ---------------------------------------------------------------------------
    accepting = property(lambda self: self.loop.accepting)
    alive = property(lambda self: self.loop.alive)
    forked = property(lambda self: self.loop.forked)

    def terminate(self, reason: str, timeout: float = 5.0) -> list[str]:
        return self.loop.terminate(reason, timeout)

    def track(self, future: Future[Any]) -> None:
        self.loop.track(future)

    def submit(self, call: FileCall) -> None:
        self.loop.track(call.future)
        call.future.add_done_callback(lambda f: f.cancelled() and self.loop.post(lambda: self._cancelled(call)))
        self.loop.post(lambda: self.add(call))

    def shutdown(self, cancel_futures: bool) -> None:
        if cancel_futures or not self.wait:
            self.loop.post(lambda: self._drop_all(cancel_jobs=self.wait))
        self.loop.shutdown(cancel_futures)

    def join(self, timeout: float | None = None) -> bool:
        return self.loop.join(timeout)

    # ---- placing a call (loop thread) ----------------------------------------------------------------------
    def add(self, call: FileCall) -> None:
        if call.future.done():
            return
        pending = []
        args, kwargs = list(call.args), dict(call.kwargs)
        for where, name, value in [(args, i, v) for i, v in enumerate(args)] + [(kwargs, k, v) for k, v in kwargs.items()]:
            if isinstance(value, Future):
                if value.done():
                    if value.cancelled() or value.exception() is not None:
                        fail(call.future, value.exception() if not value.cancelled() else RuntimeError("an input of this call was cancelled"))
                        return
                    where[name] = value.result()  # type: ignore[index]
                    continue
                parent = self._parent(value)
                if parent is not None and parent.submitting:
                    parent.waiters.append(call)  # placed again once the parent's job id is known
                    return
                ref = self._reference(value)
                if ref is None:
                    pending.append(value)
                else:
                    where[name] = ref  # type: ignore[index]
        if pending or nested_pending(args, kwargs):
            self.blocked.add(call)
            from executor.tasks.dependencies import find_futures, when_done

            waits = [f for f in find_futures((args, kwargs), []) if not f.done()]
            when_done(waits, lambda: self.loop.post(lambda: (self.blocked.discard(call), self.add(call))))
            return
        from executor.tasks.dependencies import substitute

        args, kwargs = substitute(args), substitute(kwargs)  # nested futures are done by now
        parents = [self.calls[v.future] for v in [*args, *kwargs.values()] if isinstance(v, Ref)]
        args = [v.ref if isinstance(v, Ref) else v for v in args]
        kwargs = {k: v.ref if isinstance(v, Ref) else v for k, v in kwargs.items()}
        try:
            call.key = cache_key.task_key(call.fn, args, kwargs, call.cache_key)
        except Exception as error:
            fail(call.future, error)
            return
        if self._finish(call, cached=True):
            return  # cache hit
        for parent in parents:
            parent.children.append(call)
        call.args, call.kwargs = args, kwargs
        self.calls[call.future] = call
        job = queue_id(call.stem + "_i.h5") or queue_id(call.stem + "_r.h5")
        if job is not None:
            call.job, call.adopted = job, True
        else:
            self._submit(call, list(dict.fromkeys(p.job for p in parents if p.job is not None)))
        self._poll_soon()

    def _parent(self, future: Future[Any]) -> FileCall | None:
        if type(future).__name__ == "FutureSelector":
            future = future._source  # type: ignore[attr-defined]
        return self.calls.get(future)

    def _reference(self, future: Future[Any]) -> Ref | None:
        source, selector = future, None
        if type(future).__name__ == "FutureSelector":
            source, selector = future._source, future._selector  # type: ignore[attr-defined]
        parent = self.calls.get(source)
        if parent is None or parent.job is None:
            return None
        return Ref(source, OutputRef(parent.stem + "_o.h5", selector))

    def _submit(self, call: FileCall, dependencies: list[int]) -> None:
        """Write ``_i.h5`` here, run sbatch in the submission pool (the loop never waits for the queue)."""
        file_in = call.stem + "_i.h5"
        try:
            store.write_file(file_in, input_datasets(call), cache_key.function_name(call.fn))
            workdir, options = submit_options(call)
            command = self.command(file_in, call.resources)
        except (ValueError, OSError) as error:
            remove(file_in)
            self._fail(call, QueueJobError(f"cannot submit {call_name(call)}: {error}"))
            return
        call.submitting = True
        self._inflight += 1
        self._pool.submit(self._sbatch, call, file_in, command, workdir, dependencies, options)

    def _sbatch(self, call: FileCall, file_in: str, command: str, workdir: str, dependencies: list[int], options: dict[str, Any]) -> None:
        """In a pool thread: submit, record the queue id in ``_i.h5``, report back to the loop."""
        job: int | None = None
        error: BaseException | None = None
        try:
            job = self.adapter.submit(command, workdir, dependencies, options)
            store.add_datasets(file_in, {"queue_id": store.pickle_value(job)})
            stem = file_in[: -len("_i.h5")]
            if os.path.exists(stem + "_r.h5") or os.path.exists(stem + "_o.h5"):
                remove(file_in)  # the job started and renamed its input meanwhile: ours is a stray copy
        except Exception as problem:
            error = problem
            if job is None:
                remove(file_in)  # a refused submission is no result: the next run submits again
        self.loop.post(lambda: self._submitted(call, job, error))

    def _submitted(self, call: FileCall, job: int | None, error: BaseException | None) -> None:
        call.submitting = False
        self._inflight -= 1
        call.job = job
        if job is None:
            self._fail(call, QueueJobError(f"the queue refused the job of {call_name(call)}: {error}"))
        elif call.future.cancelled() and not self._detached:
            self.adapter.cancel(job)
        waiters, call.waiters = call.waiters, []
        for waiter in waiters:
            self.add(waiter)
        self._poll_soon()

    # ---- watching the jobs (loop thread) ---------------------------------------------------------------------
    def _poll_soon(self) -> None:
        self._delay = POLL_MIN
        if self._poll_at is None or self._poll_at > time.monotonic() + POLL_MIN:
            self._poll_at = time.monotonic() + POLL_MIN
            self.loop.after(POLL_MIN, self._poll)

    def _poll(self) -> None:
        if self._poll_at is None or time.monotonic() + 1e-3 < self._poll_at:
            return  # a stale timer: a newer one is set
        self._poll_at = None
        if not self.calls:
            return
        changed = any([self._finish(call) for call in list(self.calls.values())])
        if self.calls and time.monotonic() >= self._status_at:
            changed = self._check_queue() or changed
        self._delay = POLL_MIN if changed else min(POLL_MAX, self._delay * 1.5)
        if self.calls:
            self._poll_at = time.monotonic() + self._delay
            self.loop.after(self._delay, self._poll)

    def _finish(self, call: FileCall, cached: bool = False) -> bool:
        """Resolve ``call`` from its ``_o.h5`` if there is one."""
        try:
            value, error = read_outcome(call, cached)
        except FileNotFoundError:
            return False
        self.calls.pop(call.future, None)
        if error is None:
            if not call.future.done():
                call.future.set_result(value)
        else:
            self._fail(call, error)
        return True

    def _check_queue(self) -> bool:
        try:
            states = self.adapter.states()
        except Exception as error:  # never kills the loop: retried with backoff, reported if it persists
            self._status_failures += 1
            self._status_at = time.monotonic() + STATUS_INTERVAL * 2 ** min(self._status_failures - 1, 5)
            if self._status_failures >= STATUS_FAILURES:
                for call in [c for c in self.calls.values() if c.job is not None]:
                    self._fail(call, QueueJobError(f"cannot learn the state of job {call.job} of {call_name(call)}: the queue status command failed {self._status_failures} times in a row; last: {error}"))
                self._status_failures = 0
                return True
            return False
        self._status_failures = 0
        self._status_at = time.monotonic() + STATUS_INTERVAL
        changed = False
        for call in [c for c in self.calls.values() if c.job is not None]:
            state = states.get(call.job)  # type: ignore[arg-type]
            if state is not None and not (self.adapter.backend == "flux" and state in FLUX_ENDED):
                continue
            if self._finish(call):  # written between the listing and now
                changed = True
                continue
            changed = True
            if call.adopted and state is None:  # a job of an earlier run that is gone: run the call again
                call.adopted = False
                self._submit(call, [])
                continue
            final = self.adapter.describe(call.job) if state is None else state  # type: ignore[arg-type]
            self._fail(call, QueueJobError(
                f"queue job {call.job} of {call_name(call)} ended without writing its output {call.stem}_o.h5; "
                f"final state: {final or 'unknown (no longer listed by the queue)'}{tail(call)}"))
        return changed

    # ---- failing and cancelling (loop thread) -------------------------------------------------------------
    def _fail(self, call: FileCall, error: BaseException) -> None:
        self.calls.pop(call.future, None)
        if call.error_log_file and not call.future.done():
            from executor.tasks.error_log import log_failure

            try:
                log_failure(call.error_log_file, call_name(call), b"", error)
            except OSError:
                pass
        fail(call.future, error)
        for child in call.children:
            if not child.future.done():
                if child.job is not None:
                    self.adapter.cancel(child.job)
                self._fail(child, error)

    def _cancelled(self, call: FileCall) -> None:
        if self.calls.pop(call.future, None) is not None and call.job is not None and not self._detached:
            self.adapter.cancel(call.job)
        for child in call.children:
            child.future.cancel()

    def _drop_all(self, cancel_jobs: bool) -> None:
        self._detached = not cancel_jobs
        for call in list(self.calls.values()) + list(self.blocked):
            call.future.cancel()
        self.blocked.clear()

    # ---- LoopPolicy --------------------------------------------------------------------------------------------
    def sources(self) -> dict[Any, Callable[[], None]]:
        return {}

    def pump(self) -> None:
        pass

    def busy(self) -> bool:
        return bool(self.calls or self.blocked or self._inflight)

    def stop(self) -> bool:
        return True

    def stop_running(self, reason: str) -> list[str]:
        """``terminate``: cancel every job now and fail its call with ``reason``."""
        stopped = []
        for call in list(self.calls.values()) + list(self.blocked):
            if call.job is not None:
                self.adapter.cancel(call.job)
                stopped.append(f"queue job {call.job} of {call_name(call)}")
            self.calls.pop(call.future, None)
            fail(call.future, RuntimeError(f"stopped: {reason}"))
        self.blocked.clear()
        return stopped

    def fail_all(self, error: BaseException) -> None:
        for call in list(self.calls.values()) + list(self.blocked):
            if call.job is not None:
                self.adapter.cancel(call.job)
            fail(call.future, error)

    def close(self) -> None:
        self._pool.shutdown(wait=True)  # bounded: every queue command has a timeout


