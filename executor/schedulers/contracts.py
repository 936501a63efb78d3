"""The contracts inside the schedulers layer, in one place: what a policy gives the event loop
(``LoopPolicy``), what the worker pool tells its policy (``PoolHooks``), and the pool's record of one worker
(``Worker``).

Layer: schedulers.  ``loop.EventLoop`` drives a ``LoopPolicy``; ``pool.WorkerPool`` (the workers behind the
ZeroMQ channel) calls a policy's ``PoolHooks``; ``per_call`` and ``block`` implement both, a file-queue
scheduler only the first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from executor.spawners.base import Spawner
from executor.tasks.task import Task


class LoopPolicy(Protocol):
    """What the loop calls, always on its own thread.  A policy decides which queued task runs where."""

    def sources(self) -> Mapping[Any, Callable[[], None]]:
        """Readable things to wait on (fds, ZeroMQ sockets) and what to call when one is readable; asked again
        after every wake-up, so a source may come and go."""
        ...

    def pump(self) -> None:
        """Hand queued tasks (``loop.queue``) to workers, as far as they fit; called after every wake-up."""
        ...

    def busy(self) -> bool:
        """Whether calls are still running (a shutdown waits for them)."""
        ...

    def stop(self) -> bool:
        """Shutdown, all calls done: stop the workers (bounded); called after every wake-up until it returns
        ``True`` (everything stopped)."""
        ...

    def fail_all(self, error: BaseException) -> None:
        """The loop broke: fail every call the policy holds."""
        ...

    def close(self) -> None:
        """Last call, also after a failure: kill what is left and release processes, sockets and files."""
        ...

    def stop_running(self, reason: str) -> list[str]:
        """Optional.  Stop now: fail every call handed to a worker with ``CallStoppedError(reason)``, kill those
        workers (their whole process trees); return a line per call stopped."""
        ...


@dataclass(eq=False)
class Worker:
    identity: bytes
    worker_id: int
    cost: int
    spawner: Spawner
    ref: str | None = None  # the launcher's name for it ("process 1234", "job 42"), for messages
    started: bool = False  # really running (not waiting in a queue)
    connected: bool = False
    stopping: bool = False
    dead: bool = False
    reason: str | None = None  # why the pool killed it (a start-up bound), for the error
    init_error: bytes | None = None  # init_function failed in it (a RESULT-style failure payload)
    inflight: deque[Task] = field(default_factory=deque)
    devices: list[str] = field(default_factory=list)  # GPUs given to it (CUDA_VISIBLE_DEVICES)
    prefetch: int = 1  # calls it may hold (block allocation adapts this to its time per call)
    per_call: float | None = None  # moving average of seconds per call
    last_done: float = 0.0


class PoolHooks(Protocol):
    """How the pool tells its policy what happened (loop thread)."""

    def worker_ready(self, worker: Worker) -> None:
        """``worker`` connected (HELLO) and may get calls."""
        ...

    def task_done(self, worker: Worker, task: Task) -> None:
        """``task`` resolved from ``worker``'s RESULT."""
        ...

    def worker_lost(self, worker: Worker, lost: list[Task], how: str) -> None:
        """``worker`` ended; ``lost`` are its unfinished calls in order (the first was running)."""
        ...


