"""The scheduler thread shared by both local modes.

::

    submit() ──Task──► inbox (deque) ──wake pipe──►┐
                                                    │  scheduler thread (one per executor)
    worker ◄──CALLS── ROUTER socket ◄──────────────┤  - owns the socket, the workers and the timers
    worker ──RESULT──► ROUTER socket ─────────────►│  - sleeps in one poll() on: socket, wake pipe,
    fork server ──spawned/exited──► event pipe ───►┘    spawner events; wakes for a timer deadline

The thread never sleeps on a fixed interval: it wakes when a message, a process exit, a submission or a timer
needs it.  Policies (one fresh process per call, or persistent block workers) subclass ``Scheduler`` and
decide in ``_pump()`` which queued task goes where.

Every future the executor hands out is counted until it is done (``track``); a shutdown waits for that count
to reach zero, then stops the workers (bounded), the fork server (bounded) and closes the socket.
"""

from __future__ import annotations

import heapq
import itertools
import os
import pickle
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any

import zmq

from executor import telemetry
from executor.channel import messages as m
from executor.channel.framing import new_key
from executor.channel.parent import ParentChannel
from executor.errors import ExecutorlibSocketError, RemoteTraceback, RunTimeLimitError, WorkerStartError
from executor.spawners.base import Exited, Spawned, Spawner, WorkerSpec
from executor.tasks.task import Task

# A worker's last RESULT can still be inside the ZeroMQ I/O thread when the fork server reports its exit;
# wait this long for it before declaring the call lost (the issue allows 2 s from death to failed future).
EXIT_GRACE = 0.25
# A worker that neither connects nor exits within this time is killed and its call fails (covers interpreters
# that hang at start-up, e.g. on a broken network file system).
START_TIMEOUT = 120.0
# Workers asked to stop get this long to finish before they are killed.
STOP_TIMEOUT = 5.0


@dataclass(eq=False)
class Worker:
    identity: bytes
    worker_id: int
    cost: int
    spawner: Spawner
    pid: int | None = None
    connected: bool = False
    stopping: bool = False
    dead: bool = False
    inflight: deque[Task] = field(default_factory=deque)
    devices: list[str] = field(default_factory=list)  # GPUs given to it (CUDA_VISIBLE_DEVICES)
    prefetch: int = 1  # calls it may hold (block allocation adapts this to its time per call)
    per_call: float | None = None  # moving average of seconds per call
    last_done: float = 0.0


class Scheduler:
    """Base class: the thread, the event loop, worker bookkeeping and future resolution."""

    name = "scheduler"

    def __init__(
        self,
        spawner_factory: Callable[[str, bytes], Spawner],
        mpi_spawner_factory: Callable[[str, bytes], Spawner] | None = None,
        remote_workers: bool = False,
    ) -> None:
        self._key = new_key()
        # remote_workers: workers may run on other hosts (srun across nodes), bind where they can reach us
        self._channel = ParentChannel(self._key, remote_workers=remote_workers, hostname_localhost=False)
        self._spawner = spawner_factory(self._channel.address, self._key)
        self._mpi_spawner_factory = mpi_spawner_factory
        self._mpi_spawner: Spawner | None = None
        self._spawners: list[Spawner] = [self._spawner]
        self._inbox: deque[Any] = deque()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._wake_pending = False
        self._wake_lock = threading.Lock()
        self._queue: list[tuple[int, int, Task]] = []  # heap of (-priority, seq, task)
        self._workers: dict[bytes, Worker] = {}
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._timer_seq = itertools.count()
        self._identities = itertools.count()
        self._outstanding = 0
        self._count_lock = threading.Lock()
        self.accepting = True
        self._closing = False
        self._stopping = False
        self._finished = threading.Event()
        self._broken_error: RuntimeError | None = None  # set if the loop itself failed
        self._thread = threading.Thread(target=self._run, name=f"executor-{self.name}", daemon=True)
        self._thread.start()

    # ---- called from any thread -------------------------------------------------------------------------
    def track(self, future: Future[Any]) -> None:
        """Count ``future`` as outstanding until it is done: for calls waiting on input futures, which are in no
        queue yet (queued and running calls are counted by the scheduler itself)."""
        with self._count_lock:
            self._outstanding += 1
        future.add_done_callback(self._untrack)

    def _untrack(self, _: Future[Any]) -> None:
        with self._count_lock:
            self._outstanding -= 1
            last = self._outstanding == 0
        if last and self._closing:
            self._wake()

    def enqueue(self, task: Task) -> None:
        self._inbox.append(task)
        if self._finished.is_set():  # the loop has ended (or died): nobody else will ever look at the inbox
            self._reject_inbox()
        else:
            self._wake()

    def _reject_inbox(self) -> None:
        """Fail whatever is left in the inbox once the loop is gone: never a future that stays pending."""
        while self._inbox:
            try:
                item = self._inbox.popleft()
            except IndexError:  # another thread emptied it meanwhile
                return
            if isinstance(item, Task):
                fail(item.future, self._broken_error or RuntimeError("cannot schedule new futures after shutdown"))

    def post(self, action: Callable[[], None]) -> None:
        """Run ``action`` on the scheduler thread."""
        self._inbox.append(action)
        self._wake()

    def shutdown(self, cancel_futures: bool) -> None:
        self.accepting = False  # set here, in the caller's thread: submit() refuses from now on
        self.post(lambda: self._begin_close(cancel_futures))

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the loop has ended and every worker and socket is gone (and the thread has exited)."""
        if not self._finished.wait(timeout):
            return False
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return True

    @property
    def alive(self) -> bool:
        return not self._finished.is_set()

    def _wake(self) -> None:
        if not self._wake_pending:
            self._wake_pending = True
            with self._wake_lock:  # never write to the fd number after _cleanup closed (and the OS reused) it
                if self._wake_w >= 0:
                    os.write(self._wake_w, b"x")

    # ---- the loop ---------------------------------------------------------------------------------------
    def _run(self) -> None:
        poller = zmq.Poller()
        poller.register(self._channel.socket, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        by_fd: dict[int, Spawner] = {}
        try:
            while True:
                by_fd = self._register_spawners(poller, by_fd)
                for source, _ in poller.poll(self._poll_timeout()):
                    if source is self._channel.socket:
                        self._on_messages()
                    elif source == self._wake_r:
                        # Order matters: consume the wake-up bytes, then clear the flag, then drain.  A
                        # submitter that still saw the flag set appended before the clear, so the drain
                        # sees its task; one that sees it clear writes a new byte (at worst a spurious wake).
                        try:
                            os.read(self._wake_r, 4096)
                        except BlockingIOError:
                            pass
                        self._wake_pending = False
                        self._drain_inbox()
                    elif source in by_fd:
                        self._on_spawner_events(by_fd[source])
                self._fire_timers()
                self._pump()
                if self._closing and self._ready_to_stop():
                    break
        except BaseException as error:  # a bug in here must not leave futures pending forever
            self._broken_error = RuntimeError(f"the executor's scheduler thread failed: {error!r}")
            self._fail_everything(self._broken_error)
            raise
        finally:
            self._cleanup()

    def _register_spawners(self, poller: zmq.Poller, registered: dict[int, Spawner]) -> dict[int, Spawner]:
        """Keep the poller in step with the spawners' event fds (a restarted fork server gets a new one)."""
        current = {s.fileno(): s for s in self._spawners if s.fileno() >= 0}
        if current.keys() != registered.keys():
            for fd in registered.keys() - current.keys():
                poller.unregister(fd)
            for fd in current.keys() - registered.keys():
                poller.register(fd, zmq.POLLIN)
        return current

    def _spawner_for(self, ranks: int) -> Spawner:
        if ranks == 1:
            return self._spawner
        if self._mpi_spawner is None:
            if self._mpi_spawner_factory is None:
                raise RuntimeError("this executor cannot start MPI workers")
            self._mpi_spawner = self._mpi_spawner_factory(self._channel.address, self._key)
            self._spawners.append(self._mpi_spawner)
        return self._mpi_spawner

    def _poll_timeout(self) -> int | None:
        if not self._timers:
            return None
        return max(0, int((self._timers[0][0] - time.monotonic()) * 1000) + 1)

    def after(self, delay: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._timer_seq), action))

    def _fire_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            heapq.heappop(self._timers)[2]()

    def _drain_inbox(self) -> None:
        inbox = self._inbox
        while inbox:
            item = inbox.popleft()
            if isinstance(item, Task):
                if self._closing and self._stopping:
                    item.future.cancel()
                else:
                    heapq.heappush(self._queue, (-item.priority, item.seq, item))
            else:
                item()

    # ---- workers ----------------------------------------------------------------------------------------
    def _start_worker(
        self,
        worker_id: int,
        cost: int,
        one_shot: bool,
        env: dict[str, str],
        cwd: str | None,
        ranks: int = 1,
        oversubscribe: bool = False,
        resources: Mapping[str, Any] | None = None,
    ) -> Worker:
        identity = b"w%d-%s" % (next(self._identities), os.urandom(6).hex().encode())
        try:
            spawner = self._spawner_for(ranks)
            worker = Worker(identity, worker_id, cost, spawner)
            spawner.spawn(WorkerSpec(identity, worker_id, one_shot, env, cwd, ranks, oversubscribe, resources or {}))
        except Exception as error:
            raise start_failure_error(str(error)) from error
        self._workers[identity] = worker
        telemetry.record("workers_started")
        # A launcher whose workers may wait in a queue (srun) says how long they may take to start.
        self.after(getattr(spawner, "start_timeout", None) or START_TIMEOUT, lambda: self._check_started(worker))
        return worker

    def _check_started(self, worker: Worker) -> None:
        if not worker.connected and not worker.dead:
            worker.spawner.kill(worker.identity, signal.SIGKILL)

    def _on_spawner_events(self, spawner: Spawner) -> None:
        for event in spawner.read_events():
            worker = self._workers.get(event.identity)
            if worker is None:
                continue
            if isinstance(event, Spawned):
                worker.pid = event.pid
            elif isinstance(event, Exited):
                worker.dead = True
                if event.pid is not None:
                    worker.pid = event.pid
                if worker.inflight:
                    self.after(EXIT_GRACE, lambda w=worker, e=event: self._after_exit(w, e))
                else:
                    self._after_exit(worker, event)

    def _after_exit(self, worker: Worker, event: Exited) -> None:
        self._workers.pop(worker.identity, None)
        lost = list(worker.inflight)
        worker.inflight.clear()
        if event.failure is not None and lost:  # the running call's own exception (an aborted MPI job)
            resolve(lost[0], False, event.failure)
        self._worker_lost(worker, lost, event.message or describe_exit(event.pid, event.returncode))

    def _on_messages(self) -> None:
        results = 0
        for identity, message in self._channel.receive():
            worker = self._workers.get(identity)
            if worker is None:
                continue
            kind = message[0]
            if kind == m.RESULT:
                if worker.inflight and worker.inflight[0].task_id == message[1]:
                    task = worker.inflight.popleft()
                    if task.cache is not None and message[2]:
                        store_in_cache(task, message[3])
                    resolve(task, message[2], message[3])
                    results += 1
                    if worker.inflight:
                        self.started(worker)
                    self._task_done(worker, task)
            elif kind == m.HELLO:
                worker.connected = True
                worker.pid = message[1]
                if worker.stopping:  # asked to stop while it was starting
                    self.send(worker, (m.STOP,))
                else:
                    self._worker_ready(worker)
        if results:
            telemetry.record("calls_run", results)

    def send_calls(self, worker: Worker, tasks: list[Task]) -> None:
        """Append ``tasks`` to the worker's in-flight calls and send them."""
        was_idle = not worker.inflight
        worker.inflight.extend(tasks)
        self._transmit(worker, tasks, was_idle)

    def send_assigned(self, worker: Worker) -> None:
        """Send the calls assigned to a worker before it connected."""
        self._transmit(worker, list(worker.inflight), True)

    def _transmit(self, worker: Worker, tasks: list[Task], starts: bool) -> None:
        now = time.monotonic()
        for task in tasks:
            task.sent_at = now
        self._channel.send(worker.identity, (m.CALLS, [(t.task_id, t.payload) for t in tasks]))
        if starts:
            self.started(worker)

    def started(self, worker: Worker) -> None:
        """``worker.inflight[0]`` is now running (calls run in order): start its time limit, if it has one."""
        task = worker.inflight[0]
        limit = task.resources.get("run_time_max")
        if limit:
            task.sent_at = time.monotonic()
            self.after(limit, lambda: self._time_up(worker, task, limit))

    def _time_up(self, worker: Worker, task: Task, limit: float) -> None:
        if task.future.done() or not worker.inflight or worker.inflight[0] is not task:
            return
        self.fail_task(task, RunTimeLimitError(task.fn_name, limit))
        worker.spawner.kill(worker.identity, signal.SIGKILL)  # the worker's whole process group

    def fail_task(self, task: Task, error: BaseException) -> None:
        """Fail ``task`` (if it is not done yet) and log it to its ``error_log_file``."""
        if task.future.done():
            return
        if task.resources.get("error_log_file"):  # written before the future fails: done-callbacks see it
            log_failure(task, error)
        fail(task.future, error)

    def send(self, worker: Worker, message: tuple[Any, ...]) -> None:
        self._channel.send(worker.identity, message)

    def stop_worker(self, worker: Worker) -> None:
        worker.stopping = True
        if worker.connected:
            self._channel.send(worker.identity, (m.STOP,))
        # else: it gets STOP as soon as it says hello (killing it mid-start could lose its coverage data)

    # ---- policy hooks -------------------------------------------------------------------------------------
    def _pump(self) -> None:
        raise NotImplementedError

    def _worker_ready(self, worker: Worker) -> None:
        raise NotImplementedError

    def _task_done(self, worker: Worker, task: Task) -> None:
        raise NotImplementedError

    def _worker_lost(self, worker: Worker, lost: list[Task], how: str) -> None:
        raise NotImplementedError

    # ---- shutdown -----------------------------------------------------------------------------------------
    def _begin_close(self, cancel_futures: bool) -> None:
        self._closing = True
        if cancel_futures:
            for _, _, task in self._queue:
                task.future.cancel()
            self._queue.clear()

    def _ready_to_stop(self) -> bool:
        with self._count_lock:
            if self._outstanding:
                return False
        if any(not task.future.done() for _, _, task in self._queue):
            return False
        if any(worker.inflight for worker in self._workers.values()):
            return False
        if not self._stopping:
            self._stopping = True
            for worker in list(self._workers.values()):
                self.stop_worker(worker)
            self.after(STOP_TIMEOUT, self._kill_remaining)
        return not self._workers

    def _kill_remaining(self) -> None:
        for worker in self._workers.values():
            worker.spawner.kill(worker.identity, signal.SIGKILL)

    def _fail_everything(self, error: BaseException) -> None:
        tasks = [t for _, _, t in self._queue] + [t for w in self._workers.values() for t in w.inflight]
        for task in tasks:
            fail(task.future, error)
        self._queue.clear()

    def _cleanup(self) -> None:
        for worker in self._workers.values():
            worker.spawner.kill(worker.identity, signal.SIGKILL)
        try:
            for spawner in self._spawners:
                spawner.close()
        finally:
            self._channel.close()
            with self._wake_lock:
                os.close(self._wake_w)
                self._wake_w = -1
            os.close(self._wake_r)
            self._finished.set()
            self._reject_inbox()  # enqueue() drains too once _finished is set: between them nothing is missed


def describe_exit(pid: int | None, returncode: int | None) -> str:
    who = f"worker process {pid}" if pid is not None else "a worker process"
    if returncode is None:
        return f"{who} was lost (its launcher exited)"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"{who} was killed by {name}"
    return f"{who} exited with code {returncode}"


def outcome(ok: bool, data: bytes) -> tuple[Any, BaseException | None]:
    """``(value, None)`` or ``(None, exception)`` from a worker's RESULT; the worker's traceback is ``__cause__``."""
    try:
        if ok:
            return pickle.loads(data), None
        error, tb = pickle.loads(data)
        error.__cause__ = RemoteTraceback(tb)
        return None, error
    except Exception as unpickling_error:
        return None, RuntimeError(f"the result sent by the worker could not be unpickled here: {unpickling_error!r}")


def resolve(task: Task, ok: bool, data: bytes) -> None:
    """Set the task's future from a worker's RESULT (a failure is logged first, if the call has an error log)."""
    value, error = outcome(ok, data)
    if error is not None and task.resources.get("error_log_file"):
        log_failure(task, error)
    try:
        if error is None:
            task.future.set_result(value)
        else:
            task.future.set_exception(error)
    except InvalidStateError:  # already failed by a timeout or cancelled by a shutdown
        pass


def log_failure(task: Task, error: BaseException | None) -> None:
    """Append the failure to the call's error log; a log that cannot be written costs a warning."""
    from executor.tasks.error_log import log_failure as write

    try:
        write(task.resources["error_log_file"], task.fn_name, task.payload, error or RuntimeError("unknown error"))
    except OSError as log_error:
        import warnings

        warnings.warn(f"could not append to error_log_file: {log_error}", RuntimeWarning, stacklevel=1)


def store_in_cache(task: Task, output: bytes) -> None:
    """Write the result file before the future resolves, so it exists once ``result()`` returns.  A cache that
    cannot be written (disk full, permissions) costs a warning, not the call's result."""
    try:
        task.cache.store(output, task.resources, time.monotonic() - task.sent_at)  # type: ignore[union-attr]
    except Exception as error:
        import warnings

        warnings.warn(f"could not write the cache file of {task.fn_name}(): {error}", RuntimeWarning, stacklevel=1)


def fail(future: Future[Any], error: BaseException) -> None:
    try:
        if not future.done():
            future.set_exception(error)
    except InvalidStateError:
        pass


def lost_call_error(task: Task, how: str) -> ExecutorlibSocketError:
    return ExecutorlibSocketError(f"{how} while running {task.fn_name}(); the call did not return a result")


def start_failure_error(how: str) -> WorkerStartError:
    return WorkerStartError(f"worker processes keep failing to start ({how}); no call can run")
