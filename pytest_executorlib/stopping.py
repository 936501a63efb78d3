"""Stopping executors after a failed, timed-out or interrupted test, instead of waiting for their calls.

A passing test's executors are shut down with ``shutdown(wait=True, cancel_futures=True)``: running calls are
waited for (and the ``executor`` fixture reports futures the test left unfinished).  After a failure (an
assertion, an exception, a pytest-timeout expiry with the signal method) or a KeyboardInterrupt that wait could
last as long as the longest call, so instead:

* the reference implementation's ``executor.api.terminate`` cancels queued calls, fails running ones with
  ``CallStoppedError``, kills their workers and every process the calls started (SIGTERM, SIGKILL after 1 s)
  and waits, bounded, until they are gone.  It returns one line per stopped call, which the plugin lists in
  its terminal summary;
* other implementations (executorlib) get ``shutdown(wait=False, cancel_futures=True)``: the session goes
  on, but calls already running finish in the background (executorlib offers no way to stop them).

pytest-timeout's *thread* method ends the whole pytest process with ``os._exit``, so no teardown runs; the
reference executor's fork server notices its parent is gone and stops its workers (and their process trees)
within its 2 s grace.
"""

from __future__ import annotations

import sys
from concurrent.futures import Executor
from typing import Any


def _reference_terminate(built: Executor) -> Any | None:
    """``executor.api.terminate`` if ``built`` is one of the reference implementation's executors."""
    if not type(built).__module__.startswith("executor."):
        return None
    api = sys.modules.get("executor.api")
    if api is None:
        import executor.api as api
    return getattr(api, "terminate", None)


def stop_now(built: Executor, reason: str) -> list[str]:
    """Stop ``built`` without waiting for its running calls; return a line per call stopped (may be empty)."""
    terminate = _reference_terminate(built)
    if terminate is not None:
        return list(terminate(built, reason))
    built.shutdown(wait=False, cancel_futures=True)
    return []


def stop_all_reference(reason: str) -> list[str]:
    """Stop every reference executor of this process still running (those the tests built themselves)."""
    api = sys.modules.get("executor.api")
    if api is None and "executor" in sys.modules:
        import executor.api as api
    if api is None or not hasattr(api, "terminate_all"):
        return []
    return list(api.terminate_all(reason))
