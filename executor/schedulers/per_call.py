"""One fresh worker process per call (the default mode).

Layer: schedulers (a ``Scheduler`` policy: see ``base``).

Concurrency is bounded by slots: a call takes ``cores * threads_per_core`` of the executor's ``max_cores``
(or ``max_workers``, or the CPUs this process may use).  Queued calls start strictly by priority, then
submission order; a call waits (no busy loop: the scheduler sleeps until a slot frees) while the one ahead of
it does not fit.

Spares: a few workers are forked ahead of need and wait, connected, for a call.  Each still runs exactly one
call in a process that ran nothing before, but the call skips the fork and the connection on its critical path
(per-call throughput ~300/s -> see docs/performance.md).  Only one is forked before the first call has been
served (it is the one that call takes); the others follow, so in a fresh process nothing competes with the
first call.  A spare is only used when it was forked with what a
new worker would get now: the caller's current environment, cwd and sys.path, and the call's default
resources; otherwise the call gets a worker forked for it, and stale spares are retired.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Mapping
from typing import Any

from executor.errors import WorkerStartError
from executor.schedulers.base import Scheduler, Worker
from executor.schedulers.results import fail, lost_call_error
from executor.spawners.gpus import needed as gpu_count
from executor.spawners.launch import LaunchPolicy
from executor.tasks.task import Task

# Idle pre-forked workers kept per executor (never more than its slots).  Two keep a 2-core machine busy with
# trivial calls; more only hold memory.
SPARES = 2
# Consecutive spares that die before connecting, after which no more spares are forked (calls then fork their
# own worker, and report the failure if that dies too).
MAX_SPARE_FAILURES = 3


def _generation(worker: Worker) -> int:
    """How often the worker's spawner has sent the caller's environment, cwd or sys.path (0: it never does)."""
    return int(getattr(worker.spawner, "generation", 0))


def ranks_of(resources: Mapping[str, Any]) -> int:
    return int(resources.get("cores") or 1)


class PerCallScheduler(Scheduler):
    name = "per-call"

    def __init__(self, launch: LaunchPolicy, capacity: int, defaults: Mapping[str, Any], spares: int = SPARES) -> None:
        """``capacity``: slots (cores) at once; ``defaults``: the executor's resources (what spares get)."""
        self.capacity = capacity
        self._free = capacity
        self._free_devices: list[str] = []
        self._devices_known = False
        self._hands_out_devices = True  # False: the launch policy has none, its launcher assigns GPUs (flux)
        # Spares are one-rank workers (an MPI call always gets a job of its own).
        self._defaults = defaults if ranks_of(defaults) == 1 else {**defaults, "cores": 1}
        self._default_env = launch.environment(self._defaults, [])
        self._spares: deque[Worker] = deque()
        self._generation: dict[Worker, int] = {}  # spare -> its spawner's sync generation when it was forked
        self._spare_target = min(spares, capacity)
        self._spare_failures = 0
        self._served = False  # a call has ended (spares beyond the first wait for this)
        super().__init__(launch, self._defaults)
        self.post(self._refill)
        self.start()

    def _refill(self) -> None:
        """Fork spares one at a time (a burst of forks would compete with the call that is starting).  Until the
        first call is served, only one worker at all: the first call takes it, and no other worker competes with
        that call for the cores of a process that has just started."""
        target = self._spare_target if self._served else min(self._spare_target, 0 if self.pool.workers else 1)
        while len(self._spares) < target and not self.loop.closing and self._spare_failures < MAX_SPARE_FAILURES:
            if any(not spare.connected for spare in self._spares):
                return
            try:
                spare = self.pool.start_worker(0, 0, True, self._defaults, self._default_env, None)
                self._spares.append(spare)
                # What the spawner had sent when it forked this spare: a spare forked before a later change
                # is stale even if the spawner is in sync again (a spare forked after the change synced it).
                self._generation[spare] = _generation(spare)
            except WorkerStartError:
                self._spare_failures = MAX_SPARE_FAILURES
                return

    def _take_spare(self, task: Task, env: dict[str, str]) -> Worker | None:
        if not self._spares or env != self._default_env or task.resources.get("cwd") is not None or ranks_of(task.resources) > 1:
            return None
        spawner = self._spares[0].spawner
        # The caller changed its environment, cwd or sys.path since a spare was forked: retire them all.
        if not spawner.in_sync() or any(self._generation.get(spare) != _generation(spare) for spare in self._spares):
            while self._spares:
                spare = self._spares.popleft()
                self._generation.pop(spare, None)
                self.pool.stop_worker(spare)
            return None
        spare = self._spares.popleft()
        self._generation.pop(spare, None)
        return spare

    def pump(self) -> None:
        queue = self.loop.queue
        while queue and not self.loop.stopping:
            task = queue[0][2]
            gpus = 0 if self.launch.assigns_gpus else gpu_count(task.resources)
            if gpus and not self._devices_known:  # the front already looked them up at submit: cached
                self._free_devices, self._devices_known = list(self.launch.devices()), True
                self._hands_out_devices = bool(self._free_devices)
            if not self._hands_out_devices:
                gpus = 0
            if task.cost > self._free or gpus > len(self._free_devices):
                break
            heapq.heappop(queue)
            if not task.future.set_running_or_notify_cancel():
                continue
            task.dispatched = True
            devices, self._free_devices = self._free_devices[:gpus], self._free_devices[gpus:]
            env = self.launch.environment(task.resources, devices)
            worker = self._take_spare(task, env)
            if worker is None:
                try:
                    worker = self.pool.start_worker(0, task.cost, True, task.resources, env, task.resources.get("cwd"))
                except WorkerStartError as error:
                    self._free_devices += devices
                    fail(task.future, error)
                    continue
            worker.cost = task.cost
            worker.devices = devices
            worker.inflight.append(task)
            self._free -= task.cost
            if worker.connected:
                self.worker_ready(worker)
        if not self.loop.closing:
            self._refill()

    def worker_ready(self, worker: Worker) -> None:
        self._spare_failures = 0
        if worker.inflight:
            self.pool.send_assigned(worker)
        elif not self.loop.closing:  # a spare without a call yet waits, connected; fork the next one
            self._refill()

    def _release(self, worker: Worker) -> None:
        self._free += worker.cost
        worker.cost = 0
        self._free_devices += worker.devices
        worker.devices = []

    def task_done(self, worker: Worker, task: Task) -> None:
        self._served = True  # the loop pumps after this: the spares are forked then
        if not self.launch.frees_on_exit:
            self._release(worker)  # the worker exits by itself after its one call (else: worker_lost releases)

    def worker_lost(self, worker: Worker, lost: list[Task], how: str) -> None:
        self._served = True
        self._generation.pop(worker, None)
        if worker in self._spares:
            self._spares.remove(worker)
            if not worker.connected and not worker.stopping:
                self._spare_failures += 1
        self._release(worker)
        for task in lost:
            self.fail_task(task, lost_call_error(task, how))
