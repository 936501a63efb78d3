"""Stopping executors after a failed, timed-out or interrupted test, instead of waiting for their calls.

A passing test's executors are shut down with ``shutdown(wait=True, cancel_futures=True)``: running calls are
waited for (and the ``executor`` fixture reports futures the test left unfinished).  After a failure (an
assertion, an exception, a pytest-timeout expiry with the signal method) or a KeyboardInterrupt that wait could
last as long as the longest call, so instead:

* the reference implementation's ``executor.api.terminate`` cancels queued calls, fails running ones with
  ``CallStoppedError``, kills their workers and every process the calls started (SIGTERM, SIGKILL after 1 s)
  and waits, bounded, until they are gone.  It returns one line per stopped call, which the plugin lists in
  its terminal summary;
* other implementations (executorlib) get ``shutdown(wait=False, cancel_futures=True)``, and then the worker
  processes they started are killed with their process trees (Linux): the descendants of this process
  whose command line names ``executorlib`` and that did not exist when the executor was built
  (``Snapshot``).  executorlib's futures of those calls then fail with its own error.

pytest-timeout's *thread* method ends the whole pytest process with ``os._exit``, so no teardown runs; the
reference executor's fork server notices its parent is gone and stops its workers (and their process trees)
within its 2 s grace.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from concurrent.futures import Executor
from typing import Any

from pytest_executorlib.state import SessionState


def _reference_terminate(built: Executor) -> Any | None:
    """``executor.api.terminate`` if ``built`` is one of the reference implementation's executors."""
    if not type(built).__module__.startswith("executor."):
        return None
    api = sys.modules.get("executor.api")
    if api is None:
        import executor.api as api
    return getattr(api, "terminate", None)


def _descendants(pid: int) -> dict[int, str]:
    """pid -> command line of every descendant of ``pid`` (Linux; empty elsewhere)."""
    from executor.worker.reaper import children

    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        for child in children(todo.pop()):
            if child not in found:
                try:
                    with open(f"/proc/{child}/cmdline", "rb") as file:
                        found[child] = file.read().replace(b"\0", b" ").decode(errors="replace").strip()
                except OSError:
                    found[child] = ""
                todo.append(child)
    return found


class Snapshot:
    """The processes that existed below this one when an executor of another implementation was built."""

    def __init__(self) -> None:
        self.before = set(_descendants(os.getpid()))

    def workers(self) -> dict[int, str]:
        return {pid: cmd for pid, cmd in _descendants(os.getpid()).items() if pid not in self.before and "executorlib" in cmd}


def stop_now(built: Executor, reason: str, snapshot: Snapshot | None = None) -> list[str]:
    """Stop ``built`` without waiting for its running calls; return a line per call (reference) or worker
    process (other implementations) stopped."""
    terminate = _reference_terminate(built)
    if terminate is not None:
        return list(terminate(built, reason))
    built.shutdown(wait=False, cancel_futures=True)
    if snapshot is None:
        return []
    workers = snapshot.workers()
    trees = {pid for worker in workers for pid in [worker, *_descendants(worker)]}
    for signum in (signal.SIGTERM, signal.SIGKILL):
        for pid in trees:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") and _running(pid) for pid in trees):
            time.sleep(0.02)  # no exit notification for processes that are not our children: a bounded poll
    return [f"worker process {pid} [{_program(cmd)}]" for pid, cmd in workers.items()]


def _program(cmd: str) -> str:
    """The executorlib part of a command line (``interactive_serial.py``), for the report."""
    return next((os.path.basename(arg) for arg in cmd.split() if "executorlib" in arg), cmd[:40])


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            data = file.read()
    except OSError:
        return False
    return data[data.rindex(b")") + 2 :].split()[0] != b"Z"


def stop_all_reference(reason: str) -> list[str]:
    """Stop every reference executor of this process still running (those the tests built themselves)."""
    api = sys.modules.get("executor.api")
    if api is None and "executor" in sys.modules:
        import executor.api as api
    if api is None or not hasattr(api, "terminate_all"):
        return []
    return list(api.terminate_all(reason))


def close_open_executors(state: SessionState) -> None:
    """End of the test loop: shut down the executors still open (the fixtures' and, for the reference
    implementation, those the tests built themselves), so their workers have saved coverage data before
    pytest-cov combines it.  After an interruption (``state.interrupted``) their running calls are stopped."""
    reason = "pytest was interrupted"
    for still_open in list(state.open_executors):
        with contextlib.suppress(Exception):
            if state.interrupted:
                state.tally.stopped.extend(("(interrupted)", line) for line in stop_now(still_open, reason))
            else:
                still_open.shutdown(wait=True, cancel_futures=True)
        state.open_executors.discard(still_open)
    with contextlib.suppress(Exception):
        if state.interrupted:
            state.tally.stopped.extend(("(interrupted)", line) for line in stop_all_reference(reason))
            return
        api = sys.modules.get("executor.api")
        if api is None and "executor" in sys.modules:
            import executor.api as api
        if api is not None:
            api.shutdown_all(cancel_futures=True)
