"""Turning outcomes into futures: resolve, fail, error log, cache store, and the texts of lost-worker errors.

Layer: schedulers (imports tasks, errors; no channel, no spawner).  Usable by any scheduler, including one
that talks to its workers through files instead of the ZeroMQ channel: ``resolve`` takes the worker's
``(ok, data)`` bytes however they arrived.

Everything here runs on the scheduler thread and must never raise into it: unpickling a result runs the user's
code (``__setstate__``, imports), and a warning becomes an exception under ``-W error``,
``warnings.simplefilter("error")`` or pytest's ``filterwarnings = error``.  Such an exception goes to the
affected call's future (a cache file that cannot be written: the future fails with the warning, whose cause is
the ``OSError``; an error log that cannot be written: a note on the call's own exception); the executor stays
usable.
"""

from __future__ import annotations

import logging
import signal
import time
import warnings
from concurrent.futures import Future, InvalidStateError
from typing import Any

from executor.channel import oob
from executor.errors import ExecutorlibSocketError, RemoteTraceback, WorkerStartError
from executor.tasks.task import Task

# log_obj_size=True: the pickled size of each call's inputs and output, on executorlib's logger, in its words.
SIZE_LOG = logging.getLogger("executorlib")


def deliver(task: Task, ok: bool, data: oob.Pickled) -> None:
    """A worker's result for ``task``: log its size (``log_obj_size``), store a value in the cache, resolve."""
    if task.log_size:
        SIZE_LOG.warning("Received dictionary of size: %d", oob.size(data))
    problem = store_in_cache(task, oob.in_band(data)) if task.cache is not None and ok else None
    if problem is None:
        resolve(task, ok, data)
    else:  # warnings are errors, and the cache file could not be written
        fail_task(task, problem)


def outcome(ok: bool, data: oob.Pickled, context: str | None = None) -> tuple[Any, BaseException | None]:
    """``(value, None)`` or ``(None, exception)`` from a worker's result; the worker's traceback is ``__cause__``
    (after ``context``, a line saying where it happened, if given)."""
    try:
        if ok:
            return oob.loads(data), None
        error, tb = oob.loads(data)
        error.__cause__ = RemoteTraceback(tb if context is None else f"{context}:\n{tb}")
        return None, error
    except BaseException as unpickling_error:  # user code ran: anything may come out of it
        return None, RuntimeError(f"the result sent by the worker could not be unpickled here: {unpickling_error!r}")


def resolve(task: Task, ok: bool, data: oob.Pickled, context: str | None = None) -> None:
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


def warn(message: str, cause: BaseException) -> BaseException | None:
    """Issue a ``RuntimeWarning``; under an "error" warnings filter return the exception it became (its cause:
    ``cause``) instead of raising it into the scheduler thread."""
    try:
        warnings.warn(message, RuntimeWarning, stacklevel=2)
    except Exception as raised:
        raised.__cause__ = cause
        return raised
    return None


def log_failure(task: Task, error: BaseException | None) -> None:
    """Append the failure to the call's error log; a log that cannot be written costs a warning (and a note on
    the call's exception when warnings are errors)."""
    from executor.tasks.error_log import log_failure as write

    try:
        write(task.resources["error_log_file"], task.fn_name, task.payload, error or RuntimeError("unknown error"))
    except Exception as log_error:  # OSError, or a broken __repr__ of an argument
        message = f"could not append to error_log_file {task.resources['error_log_file']}: {log_error!r}"
        if warn(message, log_error) is not None and error is not None and hasattr(error, "add_note"):
            error.add_note(message)


def store_in_cache(task: Task, output: bytes) -> BaseException | None:
    """Write the result file before the future resolves, so it exists once ``result()`` returns.  A cache that
    cannot be written (disk full, permissions) costs a warning, not the call's result; when warnings are errors,
    return that error (the caller fails the future with it)."""
    try:
        task.cache.store(output, task.resources, time.monotonic() - task.sent_at)  # type: ignore[union-attr]
    except Exception as error:
        return warn(f"could not write the cache file of {task.fn_name}(): {error}", error)
    return None


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
