"""The executors of this process that are still running: shut them all down, or stop them now.

Layer: frontends.  ``BaseExecutor`` registers its scheduler in ``live``; ``shutdown_all`` runs at interpreter
exit (executors nobody shut down finish their calls first, as in ``concurrent.futures``), and test runners use
``terminate`` / ``terminate_all`` after a failed or interrupted test.  In a child forked from this process the
schedulers are not ``alive`` (their threads do not exist there), so the child's exit waits for none of them.
"""

from __future__ import annotations

import atexit
import weakref
from concurrent.futures import Executor
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # not imported at run time: a front end imports the schedulers after starting its template
    from executor.schedulers.base import Scheduler

live: weakref.WeakSet[Scheduler] = weakref.WeakSet()


def shutdown_all(cancel_futures: bool = False) -> int:
    """Shut down every executor of this process that is still running and wait until its workers are gone.

    For test runners and tools that must be sure no worker is alive (e.g. before coverage data are combined);
    returns how many executors were still running.
    """
    schedulers = [s for s in list(live) if s.alive]
    for scheduler in schedulers:
        scheduler.shutdown(cancel_futures=cancel_futures)
    for scheduler in schedulers:
        scheduler.join()
    return len(schedulers)


def terminate(executor: Executor, reason: str, timeout: float = 10.0) -> list[str]:
    """Stop ``executor`` now: cancel its queued calls, fail its running ones with ``CallStoppedError(reason)``,
    kill their workers and every process those started, and wait (bounded) until all are gone.

    For test runners after a failed, timed-out or interrupted test; returns one line per call stopped.
    """
    scheduler: Scheduler = executor._scheduler  # type: ignore[attr-defined]
    stopped = scheduler.terminate(reason)
    executor.shutdown(wait=False, cancel_futures=True)
    if not scheduler.join(timeout):
        stopped.append(f"(its workers were still stopping after {timeout:g} s)")
    return stopped


def terminate_all(reason: str) -> list[str]:
    """``terminate`` every executor of this process still running (see ``shutdown_all``)."""
    stopped: list[str] = []
    schedulers = [s for s in list(live) if s.alive]
    for scheduler in schedulers:
        stopped += scheduler.terminate(reason)
        scheduler.shutdown(cancel_futures=True)
    for scheduler in schedulers:
        scheduler.join(10.0)
    return stopped


@atexit.register
def _shutdown_at_exit() -> None:
    """Executors nobody shut down finish their calls and stop their workers before the interpreter exits."""
    shutdown_all()
