"""The workers behind the ZeroMQ channel: start them through the launch policy's spawners, follow their events,
send them calls, resolve what they send back.

Layer: schedulers (imports channel, spawners, tasks).  A policy (``per_call``, ``block``) drives the pool from the
loop thread and hears back through ``PoolHooks``::

    policy ──start_worker / send_calls / stop_worker──► WorkerPool ──spawn/kill──► spawner(s)
    policy ◄──worker_ready / task_done / worker_lost─── WorkerPool ◄──HELLO/RESULT── channel (ROUTER socket)
                                                                   ◄──Spawned/Started/Exited── spawner events

Start-up is bounded twice: a spawner's ``start_timeout`` from launch to ``Started`` (time in a queue, only for
launchers that queue), then ``CONNECT_TIMEOUT`` from ``Started`` to the worker's HELLO.  A worker that misses
either is killed and reported with the reason and what its launcher said.
"""

from __future__ import annotations

import functools
import itertools
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from executor import telemetry
from executor.channel import messages as m
from executor.channel import oob
from executor.channel.framing import new_key
from executor.errors import CallStoppedError, RunTimeLimitError
from executor.schedulers.contracts import PoolHooks, Worker
from executor.schedulers.loop import EventLoop
from executor.schedulers.results import SIZE_LOG, deliver, describe_exit, fail, fail_task, resolve, start_failure_error
from executor.spawners.base import CONNECT_TIMEOUT, Exited, Spawned, Spawner, Started, WorkerSpec
from executor.spawners.launch import LaunchPolicy
from executor.tasks.task import Task

if TYPE_CHECKING:
    from executor.channel.parent import ParentChannel

# A worker's last RESULT can still be inside the ZeroMQ I/O thread when the spawner reports its exit; wait this
# long for it before declaring the call lost (the issue allows 2 s from death to failed future).
EXIT_GRACE = 0.25
# Workers asked to stop get this long to finish before they are killed.
STOP_TIMEOUT = 5.0
# terminate(): SIGTERM to a busy worker's process group (a measured worker saves its coverage), SIGKILL after this.
TERMINATE_GRACE = 1.0


class WorkerPool:
    """Workers, their channel and their spawners; loop thread only (plus construction)."""

    def __init__(self, loop: EventLoop, launch: LaunchPolicy, hooks: PoolHooks, resources: Mapping[str, Any]) -> None:
        """Cheap: the channel and the default spawner are made by ``open()``, the loop thread's first action."""
        self.loop = loop
        self.launch = launch
        self.hooks = hooks
        self._key = new_key()
        self._resources = resources
        self.channel: ParentChannel = None  # type: ignore[assignment]  # set by open(), before any other use
        self.opened = threading.Event()  # set once open() has run (whether or not it succeeded)
        self.workers: dict[bytes, Worker] = {}
        self._spawners: list[tuple[Spawner, Callable[[], None]]] = []
        self._identities = itertools.count()
        self._stop_asked = False

    def open(self) -> None:
        """Loop thread, first thing: bind the channel (this imports pyzmq) and get the default spawner, whose
        workers may then connect.  Runs on the loop thread so that construction returns at once and the
        import overlaps with whatever the launch policy started early (the fork server's template)."""
        try:
            from executor.channel.parent import ParentChannel

            self.channel = ParentChannel(
                self._key, remote_workers=self.launch.remote_workers, hostname_localhost=self.launch.hostname_localhost
            )
            self.spawner_for(self._resources)
        finally:
            self.opened.set()

    def spawner_for(self, resources: Mapping[str, Any]) -> Spawner:
        spawner = self.launch.spawner(resources, self.channel.address, self._key)
        if all(known is not spawner for known, _ in self._spawners):
            self._spawners.append((spawner, lambda: self._on_spawner_events(spawner)))
        return spawner

    @property
    def spawners(self) -> list[Spawner]:
        """The spawners started so far (the default one first)."""
        return [spawner for spawner, _ in self._spawners]

    # ---- LoopPolicy parts -------------------------------------------------------------------------------
    def sources(self) -> dict[Any, Callable[[], None]]:
        current: dict[Any, Callable[[], None]] = {} if self.channel is None else {self.channel.socket: self._on_messages}
        for spawner, handler in self._spawners:
            fd = spawner.fileno()
            if fd >= 0:
                current[fd] = handler
        return current

    def busy(self) -> bool:
        return any(worker.inflight for worker in self.workers.values())

    def stop(self) -> bool:
        if not self._stop_asked:
            self._stop_asked = True
            for worker in list(self.workers.values()):
                self.stop_worker(worker)
            self.loop.after(STOP_TIMEOUT, self._kill_remaining)
        return not self.workers

    def fail_all(self, error: BaseException) -> None:
        for worker in self.workers.values():
            for task in worker.inflight:
                fail(task.future, error)

    def terminate(self, reason: str) -> list[str]:
        """Fail every call held by a worker with ``CallStoppedError`` and kill those workers' process trees
        (SIGTERM, SIGKILL after ``TERMINATE_GRACE``); return one line per call."""
        stopped: list[str] = []
        for worker in list(self.workers.values()):
            held = [task for task in worker.inflight if not task.future.done()]
            if not held:
                continue
            where = f"worker {worker.ref}" if worker.ref else "a worker"
            for position, task in enumerate(held):
                state = "running" if position == 0 and worker.connected else "queued"
                stopped.append(f"{task.fn_name}() [{state} in {where}]")
                fail_task(task, CallStoppedError(f"{task.fn_name}() was stopped before it returned: {reason}"))
            worker.stopping = True  # not replaced, and its calls are not retried
            worker.spawner.kill(worker.identity, signal.SIGTERM)
            self.loop.after(TERMINATE_GRACE, functools.partial(self._kill_if_alive, worker))
        return stopped

    def _kill_if_alive(self, worker: Worker) -> None:
        if not worker.dead and worker.identity in self.workers:
            worker.spawner.kill(worker.identity, signal.SIGKILL)

    def close(self) -> None:
        for worker in self.workers.values():
            worker.spawner.kill(worker.identity, signal.SIGKILL)
        try:
            for spawner, _ in self._spawners:
                spawner.close()
            release = getattr(self.launch, "close", None)  # what it started early but never handed out
            if release is not None:
                release()
        finally:
            if self.channel is not None:
                self.channel.close()

    def _kill_remaining(self) -> None:
        for worker in self.workers.values():
            worker.spawner.kill(worker.identity, signal.SIGKILL)

    # ---- workers ----------------------------------------------------------------------------------------
    def start_worker(
        self, worker_id: int, cost: int, one_shot: bool, resources: Mapping[str, Any], env: Mapping[str, str], cwd: str | None
    ) -> Worker:
        """Spawn a worker; raise ``WorkerStartError`` if it cannot even be launched."""
        identity = b"w%d-%s" % (next(self._identities), os.urandom(6).hex().encode())
        try:
            spawner = self.spawner_for(resources)
            worker = Worker(identity, worker_id, cost, spawner)
            spawner.spawn(WorkerSpec.make(identity, worker_id, one_shot, env, cwd, resources))
        except Exception as error:
            raise start_failure_error(str(error)) from error
        self.workers[identity] = worker
        telemetry.record("workers_started")
        if spawner.start_timeout is not None:
            self.loop.after(spawner.start_timeout, lambda: self._check_started(worker, spawner.start_timeout))
        return worker

    def _check_started(self, worker: Worker, limit: float | None) -> None:
        if not worker.started and not worker.connected and not worker.dead:
            worker.reason = f"did not start within its launcher's start_timeout of {limit:g} s (still queued)"
            worker.spawner.kill(worker.identity, signal.SIGKILL)

    def _check_connected(self, worker: Worker) -> None:
        if not worker.connected and not worker.dead:
            worker.reason = f"started but did not connect to the executor within {CONNECT_TIMEOUT:g} s"
            worker.spawner.kill(worker.identity, signal.SIGKILL)

    def _on_spawner_events(self, spawner: Spawner) -> None:
        for event in spawner.read_events():
            worker = self.workers.get(event.identity)
            if worker is None:
                continue
            if isinstance(event, Spawned):
                worker.ref = event.ref
            elif isinstance(event, Started):
                if not worker.started:
                    worker.started = True
                    self.loop.after(CONNECT_TIMEOUT, functools.partial(self._check_connected, worker))
            elif isinstance(event, Exited):
                worker.dead = True
                if worker.inflight:
                    self.loop.after(EXIT_GRACE, functools.partial(self._after_exit, worker, event))
                else:
                    self._after_exit(worker, event)

    def _after_exit(self, worker: Worker, event: Exited) -> None:
        self.workers.pop(worker.identity, None)
        lost = list(worker.inflight)
        worker.inflight.clear()
        if event.failure is not None and lost:  # the running call's own exception (an aborted MPI job)
            resolve(lost[0], False, event.failure)
        self.hooks.worker_lost(worker, lost, describe_exit(worker.ref, event.returncode, event.message, worker.reason))

    def _on_messages(self) -> None:
        results = 0
        for identity, message in self.channel.receive():
            worker = self.workers.get(identity)
            if worker is None:
                continue
            kind = message[0]
            if kind == m.RESULT:
                if worker.inflight and worker.inflight[0].task_id == message[1]:
                    task = worker.inflight.popleft()
                    deliver(task, message[2], message[3])
                    results += 1
                    if worker.inflight:
                        self.started(worker)
                    self.hooks.task_done(worker, task)
            elif kind == m.HELLO:
                worker.connected = worker.started = True
                if worker.stopping:  # asked to stop while it was starting
                    self.send(worker, (m.STOP,))
                else:
                    self.hooks.worker_ready(worker)
            elif kind == m.INITERR:
                worker.init_error = message[1]  # the policy stops giving it calls (see BlockScheduler)
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
            if task.log_size:
                SIZE_LOG.warning("Send dictionary of size: %d", oob.size(task.payload))
        self.channel.send(worker.identity, (m.CALLS, [(t.task_id, t.payload) for t in tasks]))
        if starts:
            self.started(worker)

    def started(self, worker: Worker) -> None:
        """``worker.inflight[0]`` is now running (calls run in order): start its time limit, if it has one."""
        task = worker.inflight[0]
        limit = task.resources.get("run_time_max")
        if limit:
            task.sent_at = time.monotonic()
            self.loop.after(limit, lambda: self._time_up(worker, task, limit))

    def _time_up(self, worker: Worker, task: Task, limit: float) -> None:
        if task.future.done() or not worker.inflight or worker.inflight[0] is not task:
            return
        fail_task(task, RunTimeLimitError(task.fn_name, limit))
        worker.spawner.kill(worker.identity, signal.SIGKILL)  # the worker's whole process group

    def send(self, worker: Worker, message: tuple[Any, ...]) -> None:
        self.channel.send(worker.identity, message)

    def stop_worker(self, worker: Worker) -> None:
        worker.stopping = True
        if worker.connected:
            self.channel.send(worker.identity, (m.STOP,))
        # else: it gets STOP as soon as it says hello (killing it mid-start could lose its coverage data)
