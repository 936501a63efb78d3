"""The scheduler thread: one event loop per executor, which a policy plugs into through ``LoopPolicy``.

Layer: schedulers (no channel, no spawner: the policy brings its own event sources).

::

    submit() ──Task──► inbox (deque) ──wake pipe──►┐
    post(action) ─────► inbox ─────────────────────┤  loop thread
                                                    │  - sleeps in one poll() on the wake pipe and the
    policy.sources(): {fd or socket: handler} ────►│    policy's sources; wakes for a timer deadline
                                                    │  - queued tasks: a heap by (-priority, submission)
                                                    ┘  - after each wake-up: fire timers, policy.pump()

The thread imports pyzmq itself, first thing (its poller waits on ZeroMQ sockets and fds alike), so that
building an executor does not wait for that import.  The thread never sleeps on a fixed interval: it wakes when a message, a process exit, a submission or a timer
needs it.  Every future the executor hands out is counted until it is done (``track``, plus the queue and the
policy's ``busy()``); a shutdown waits for that, then lets the policy stop its workers (``stop()`` until it
returns True; bounded by the policy's own timers) and ``close()`` everything.  If the loop itself fails, every
pending future fails with a clear error instead of staying pending.

``terminate``: queued calls cancelled, the policy's ``stop_running`` fails running ones and kills their workers,
then as ``shutdown``.  In a forked child (``forked``) the thread does not exist: ``shutdown``/``join`` do nothing.
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from executor.schedulers.contracts import LoopPolicy
from executor.schedulers.results import fail
from executor.tasks.task import Task

if TYPE_CHECKING:
    import zmq


_POLLIN = 1  # zmq.POLLIN (also select.POLLIN), a plain int so that importing this module does not import pyzmq


class EventLoop:
    """The thread, the inbox, the timers and the priority queue; used by the front end from any thread."""

    def __init__(self, policy: LoopPolicy, name: str = "scheduler") -> None:
        self.policy = policy
        self.name = name
        self.queue: list[tuple[int, int, Task]] = []  # heap of (-priority, seq, task); loop thread only
        self.accepting = True
        self.closing = False  # shutdown asked (loop thread)
        self.stopping = False  # all calls done, workers being stopped (loop thread)
        self._inbox: deque[Any] = deque()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._wake_pending = False
        self._wake_lock = threading.Lock()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._timer_seq = itertools.count()
        self._outstanding = 0
        self._count_lock = threading.Lock()
        self._finished = threading.Event()
        self._broken_error: RuntimeError | None = None  # set if the loop itself failed
        self._thread = threading.Thread(target=self._run, name=f"executor-{name}", daemon=True)
        self._pid = os.getpid()

    def start(self) -> None:
        self._thread.start()

    # ---- called from any thread -------------------------------------------------------------------------
    def track(self, future: Future[Any]) -> None:
        """Count ``future`` as outstanding until it is done: for calls waiting on input futures, which are in no
        queue yet (queued and running calls are counted by the loop and the policy)."""
        with self._count_lock:
            self._outstanding += 1
        future.add_done_callback(self._untrack)

    def _untrack(self, _: Future[Any]) -> None:
        with self._count_lock:
            self._outstanding -= 1
            last = self._outstanding == 0
        if last and self.closing:
            self._wake()

    def enqueue(self, task: Task) -> None:
        self._inbox.append(task)
        if self._finished.is_set():  # the loop has ended (or died): nobody else will ever look at the inbox
            self._reject_inbox()
        else:
            self._wake()

    def post(self, action: Callable[[], None]) -> None:
        """Run ``action`` on the loop thread."""
        self._inbox.append(action)
        self._wake()

    def shutdown(self, cancel_futures: bool) -> None:
        self.accepting = False  # set here, in the caller's thread: submit() refuses from now on
        if self.forked:  # the wake pipe is shared with the parent's loop, which this child must not disturb
            return
        self.post(lambda: self._begin_close(cancel_futures))

    def terminate(self, reason: str, timeout: float = 5.0) -> list[str]:
        """Stop accepting calls, cancel queued ones and stop running ones now (``LoopPolicy.stop_running``); return
        what was stopped.  The loop then ends as after ``shutdown``: ``join`` waits for the workers to be gone."""
        self.accepting = False
        if not self.alive or self.forked:
            return []
        stopped: list[str] = []
        handled = threading.Event()

        def action() -> None:
            try:
                self._begin_close(cancel_futures=True)
                stopped.extend(getattr(self.policy, "stop_running", lambda _: [])(reason))  # optional in a policy
            finally:
                handled.set()

        self.post(action)
        handled.wait(timeout)
        return stopped

    @property
    def forked(self) -> bool:  # in a child forked from the process that built this loop
        return os.getpid() != self._pid

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the loop has ended and every worker and socket is gone (and the thread has exited)."""
        if self.forked:  # nothing of the loop exists in a forked child: nothing to wait for
            return True
        if not self._finished.wait(timeout):
            return False
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return True

    @property
    def alive(self) -> bool:
        return not self._finished.is_set() and not self.forked

    def _wake(self) -> None:
        if not self._wake_pending:
            self._wake_pending = True
            with self._wake_lock:  # never write to the fd number after _cleanup closed (and the OS reused) it
                if self._wake_w >= 0:
                    os.write(self._wake_w, b"x")

    def _reject_inbox(self) -> None:
        """Fail whatever is left in the inbox once the loop is gone: never a future that stays pending."""
        while self._inbox:
            try:
                item = self._inbox.popleft()
            except IndexError:  # another thread emptied it meanwhile
                return
            if isinstance(item, Task):
                fail(item.future, self._broken_error or RuntimeError("cannot schedule new futures after shutdown"))

    # ---- loop thread ----------------------------------------------------------------------------------------
    def after(self, delay: float, action: Callable[[], None]) -> None:
        """Run ``action`` on the loop thread in ``delay`` seconds (loop thread only)."""
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._timer_seq), action))

    def requeue(self, task: Task) -> None:
        heapq.heappush(self.queue, (-task.priority, task.seq, task))

    def _run(self) -> None:
        handlers: dict[Any, Callable[[], None]] = {}
        wake_r = self._wake_r
        try:
            # Imported here, on this thread: pyzmq takes ~27 ms to import, which a fresh process then spends
            # while the caller goes on and the fork server's template starts (see docs/performance.md).
            import zmq

            poller = zmq.Poller()
            poller.register(self._wake_r, zmq.POLLIN)
            while True:
                handlers = self._register(poller, handlers)
                for source, _ in poller.poll(self._poll_timeout()):
                    if source == wake_r:
                        # Order matters: consume the wake-up bytes, then clear the flag, then drain.  A
                        # submitter that still saw the flag set appended before the clear, so the drain
                        # sees its task; one that sees it clear writes a new byte (at worst a spurious wake).
                        try:
                            os.read(wake_r, 4096)
                        except BlockingIOError:
                            pass
                        self._wake_pending = False
                        self._drain_inbox()
                    else:
                        handler = handlers.get(source)
                        if handler is not None:
                            handler()
                self._fire_timers()
                self.policy.pump()
                if self.closing and self._ready_to_stop():
                    break
        except BaseException as error:  # a bug in here must not leave futures pending forever
            self._broken_error = RuntimeError(f"the executor's scheduler thread failed: {error!r}")
            self._fail_everything(self._broken_error)
            raise
        finally:
            self._cleanup()

    def _register(self, poller: zmq.Poller, registered: dict[Any, Callable[[], None]]) -> dict[Any, Callable[[], None]]:
        """Keep the poller in step with the policy's sources (a restarted fork server gets a new fd)."""
        current = self.policy.sources()  # a fresh dict each time
        if current.keys() != registered.keys():
            for source in registered.keys() - current.keys():
                poller.unregister(source)
            for source in current.keys() - registered.keys():
                poller.register(source, _POLLIN)
        return dict(current)

    def _poll_timeout(self) -> int | None:
        if not self._timers:
            return None
        return max(0, int((self._timers[0][0] - time.monotonic()) * 1000) + 1)

    def _fire_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            heapq.heappop(self._timers)[2]()

    def _drain_inbox(self) -> None:
        inbox = self._inbox
        while inbox:
            item = inbox.popleft()
            if isinstance(item, Task):
                if self.closing and self.stopping:
                    item.future.cancel()
                else:
                    heapq.heappush(self.queue, (-item.priority, item.seq, item))
            else:
                item()

    def _begin_close(self, cancel_futures: bool) -> None:
        self.closing = True
        if cancel_futures:
            for _, _, task in self.queue:
                task.future.cancel()
            self.queue.clear()

    def _ready_to_stop(self) -> bool:
        with self._count_lock:
            if self._outstanding:
                return False
        if any(not task.future.done() for _, _, task in self.queue):
            return False
        if self.policy.busy():
            return False
        self.stopping = True
        return self.policy.stop()

    def _fail_everything(self, error: BaseException) -> None:
        for _, _, task in self.queue:
            fail(task.future, error)
        self.queue.clear()
        self.policy.fail_all(error)

    def _cleanup(self) -> None:
        try:
            self.policy.close()
        finally:
            with self._wake_lock:
                os.close(self._wake_w)
                self._wake_w = -1
            os.close(self._wake_r)
            self._finished.set()
            self._reject_inbox()  # enqueue() drains too once _finished is set: between them nothing is missed
