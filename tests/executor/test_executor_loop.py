"""The event loop with a policy that has no channel and no process (as a file-queue scheduler will be)."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import pytest

from executor.schedulers.loop import EventLoop
from executor.schedulers.results import resolve
from executor.tasks.task import Task


class InlinePolicy:
    """Runs one queued task per timer tick, in the loop thread, and resolves it through ``results``."""

    def __init__(self, broken: bool = False) -> None:
        self.loop = EventLoop(self, "inline")
        self.ran: list[str] = []
        self.running: Task | None = None
        self.closed = False
        self.broken = broken

    def sources(self) -> dict[Any, Callable[[], None]]:
        return {}

    def pump(self) -> None:
        if self.broken and self.loop.queue:
            raise ValueError("a bug in the policy")
        if self.running is None and self.loop.queue:
            import heapq

            task = heapq.heappop(self.loop.queue)[2]
            if task.future.set_running_or_notify_cancel():
                self.running = task
                self.loop.after(0.01, self._finish)

    def _finish(self) -> None:
        task, self.running = self.running, None
        assert task is not None
        self.ran.append(task.fn_name)
        resolve(task, True, pickle.dumps(task.fn_name.upper()))

    def busy(self) -> bool:
        return self.running is not None

    def stop(self) -> bool:
        return True

    def fail_all(self, error: BaseException) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def _task(name: str, priority: int = 0) -> Task:
    return Task(Future(), b"", name, {}, 1, priority)


def test_tasks_run_by_priority_and_resolve_without_any_channel() -> None:
    policy = InlinePolicy()
    tasks = [_task("first"), _task("low", -1), _task("high", 3)]
    for task in tasks:  # queued before the thread starts: the heap decides the order
        policy.loop.enqueue(task)
    policy.loop.start()
    assert [t.future.result(timeout=30) for t in tasks] == ["FIRST", "LOW", "HIGH"]
    assert policy.ran == ["high", "first", "low"]
    policy.loop.shutdown(cancel_futures=False)
    assert policy.loop.join(timeout=30)
    assert policy.closed


def test_shutdown_waits_for_a_tracked_future_then_refuses_new_tasks() -> None:
    policy = InlinePolicy()
    policy.loop.start()
    waiting: Future[Any] = Future()
    policy.loop.track(waiting)  # e.g. a call still waiting for its input futures
    policy.loop.shutdown(cancel_futures=False)
    assert not policy.loop.join(timeout=0.2), "the loop ended while a tracked future was pending"
    waiting.set_result(None)
    assert policy.loop.join(timeout=30)
    late = _task("late")
    policy.loop.enqueue(late)
    with pytest.raises(RuntimeError, match="after shutdown"):
        late.future.result(timeout=30)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the loop re-raises the bug
def test_a_failing_policy_fails_pending_futures_clearly_and_still_closes() -> None:
    policy = InlinePolicy(broken=True)
    task = _task("doomed")
    policy.loop.enqueue(task)
    policy.loop.start()
    with pytest.raises(RuntimeError, match="scheduler thread failed: ValueError"):
        task.future.result(timeout=30)
    assert policy.loop.join(timeout=30)
    assert policy.closed
