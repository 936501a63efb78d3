"""Turning outcomes into futures: resolve, fail, error log, cache store, and the texts of lost-worker errors.

Layer: schedulers (imports tasks, errors; no channel, no spawner).  Usable by any scheduler, including one
that talks to its workers through files instead of the ZeroMQ channel: ``resolve`` takes the worker's
``(ok, data)`` bytes however they arrived.
"""

from __future__ import annotations

import pickle
import signal
import time
import warnings
from concurrent.futures import Future, InvalidStateError
from typing import Any

from executor.errors import ExecutorlibSocketError, RemoteTraceback, WorkerStartError
from executor.tasks.task import Task


def outcome(ok: bool, data: bytes, context: str | None = None) -> tuple[Any, BaseException | None]:
    """``(value, None)`` or ``(None, exception)`` from a worker's result; the worker's traceback is ``__cause__``
    (after ``context``, a line saying where it happened, if given)."""
    try:
        if ok:
            return pickle.loads(data), None
        error, tb = pickle.loads(data)
        error.__cause__ = RemoteTraceback(tb if context is None else f"{context}:\n{tb}")
        return None, error
    except Exception as unpickling_error:
        return None, RuntimeError(f"the result sent by the worker could not be unpickled here: {unpickling_error!r}")


def resolve(task: Task, ok: bool, data: bytes, context: str | None = None) -> None:
    """Set the task's future from a worker's result (a failure is logged first, if the call has an error log)."""
    value, error = outcome(ok, data, context)
    if error is not None and task.resources.get("error_log_file"):
        log_failure(task, error)
    try:
        if error is None:
            task.future.set_result(value)
        else:
            task.future.set_exception(error)
    except InvalidStateError:  # already failed by a timeout or cancelled by a shutdown
        pass


def fail_task(task: Task, error: BaseException) -> None:
    """Fail ``task`` (if it is not done yet) and log it to its ``error_log_file``."""
    if task.future.done():
        return
    if task.resources.get("error_log_file"):  # written before the future fails: done-callbacks see it
        log_failure(task, error)
    fail(task.future, error)


def log_failure(task: Task, error: BaseException | None) -> None:
    """Append the failure to the call's error log; a log that cannot be written costs a warning."""
    from executor.tasks.error_log import log_failure as write

    try:
        write(task.resources["error_log_file"], task.fn_name, task.payload, error or RuntimeError("unknown error"))
    except OSError as log_error:
        warnings.warn(f"could not append to error_log_file: {log_error}", RuntimeWarning, stacklevel=1)


def store_in_cache(task: Task, output: bytes) -> None:
    """Write the result file before the future resolves, so it exists once ``result()`` returns.  A cache that
    cannot be written (disk full, permissions) costs a warning, not the call's result."""
    try:
        task.cache.store(output, task.resources, time.monotonic() - task.sent_at)  # type: ignore[union-attr]
    except Exception as error:
        warnings.warn(f"could not write the cache file of {task.fn_name}(): {error}", RuntimeWarning, stacklevel=1)


def fail(future: Future[Any], error: BaseException) -> None:
    try:
        if not future.done():
            future.set_exception(error)
    except InvalidStateError:
        pass


def describe_exit(ref: str | None, returncode: int | None, message: str | None = None, reason: str | None = None) -> str:
    """``"worker process 123 was killed by SIGKILL"``; ``reason`` says why we stopped it, ``message`` quotes its
    launcher."""
    who = f"worker {ref}" if ref is not None else "a worker process"
    if reason is not None:
        text = f"{who} {reason}"
    elif returncode is None:
        text = f"{who} was lost (its launcher exited)"
    elif returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        text = f"{who} was killed by {name}"
    else:
        text = f"{who} exited with code {returncode}"
    return f"{text}; its launcher said: {message}" if message else text


def lost_call_error(task: Task, how: str) -> ExecutorlibSocketError:
    return ExecutorlibSocketError(f"{how} while running {task.fn_name}(); the call did not return a result")


def start_failure_error(how: str) -> WorkerStartError:
    return WorkerStartError(f"worker processes keep failing to start ({how}); no call can run")
