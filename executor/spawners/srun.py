"""SLURM workers: ``srun [options] python -c "...worker main()"``, one srun per worker (a ``LaunchedSpawner``).

Layer: spawners.  ``SrunLaunch`` is the launch policy of ``SlurmJobExecutor`` (every worker, one rank or many, is
an srun; SLURM hands out GPUs and frees a job's CPUs when it ends); ``SrunSpawner`` says how srun is called and
reads what it says::

    srun ──stderr──► LaunchedSpawner's reader ─┬─► forwarded to this process's stderr (the task's output too)
                                               └─► on_stderr_line: SLURM's own lines kept (quoted when the
                                                   worker is lost); "never satisfiable" -> stop srun now;
                                                   "allocated resources" -> Started
    srun exits ──► Exited(message = exit_message(): why we stopped it, and srun's own lines)

* Started: when srun says a queued job got its resources ("job N has been allocated resources").  Until the
  worker is started or connected, the pool bounds the wait by ``start_timeout`` (``SlurmJobExecutor(
  queue_timeout=...)``): waiting in a queue is not a start failure, but it does not last forever either.
* The worker's configuration (address, identity, **secret**) travels in ``XLIB_WORKER_CONFIG`` (see
  ``LaunchedSpawner``): srun exports the environment to the task; never on a command line.
* Stopping srun: SIGTERM first (srun then cancels its job or step and revokes a pending allocation; a SIGKILLed
  srun leaves a pending job in the queue forever), SIGKILL only after ``_TERM_GRACE``, then ``scancel`` of the job
  id srun printed.
"""

from __future__ import annotations

import collections
import signal
import threading
from collections.abc import Mapping
from typing import Any

from executor.spawners import gpus
from executor.spawners.base import Spawner, WorkerSpec
from executor.spawners.environment import worker_environment
from executor.spawners.launched import LaunchedSpawner, worker_command
from executor.spawners.slurm_cluster import cancel_jobs_of, find_srun
from executor.spawners.srun_command import (
    GRANTED,
    NEVER,
    QUEUED,
    STEP_WAIT,
    classify,
    is_slurm_line,
    job_id_in,
    quote,
    srun_options,
    task_signal,
)

_TERM_GRACE = 2.0  # seconds srun gets after SIGTERM (it ends its job or step, ranks save coverage) before SIGKILL
# srun says "queued and waiting for resources" as soon as slurmctld answers that the job is pending (ms); an srun
# that said nothing this long after its launch got its resources at once: it is Started.
_QUEUE_WINDOW = 1.0
_QUOTED_LINES = 8  # SLURM lines quoted in an error


class _Srun:
    """What one srun said, and whether we stopped it."""

    __slots__ = ("lines", "job_id", "pid", "queued", "granted", "reason", "stopping")

    def __init__(self) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=_QUOTED_LINES)
        self.job_id: str | None = None
        self.pid: int | None = None  # srun's, which is also its session id (SLURM's AllocSID)
        self.queued = False
        self.granted = False
        self.reason: str | None = None
        self.stopping = False


class SrunSpawner(LaunchedSpawner):
    """Start each worker with its own srun (a new job outside an allocation, a new step inside one)."""

    name = "srun"
    capture_stderr = True
    # Started when srun says a queued job got its resources, or when it said nothing about a queue for
    # _QUEUE_WINDOW (granted at once: srun prints nothing then).  Until Started, start_timeout bounds the wait.
    starts_at_launch = False

    def __init__(
        self,
        address: str,
        key: bytes,
        coverage: bool | None = None,
        *,
        pmi_mode: str | None = None,
        queue_timeout: float = 3600.0,
    ) -> None:
        self._srun = find_srun()
        self._pmi_mode = pmi_mode
        self._said: dict[bytes, _Srun] = {}
        self._said_lock = threading.Lock()
        super().__init__(address, key, coverage, start_timeout=queue_timeout)

    def command(self, spec: WorkerSpec) -> tuple[list[str], dict[str, str]]:
        """srun's argv for ``spec``: its options from the worker's resources, then the worker."""
        resources = dict(spec.resources)
        if spec.cwd is not None:
            resources["cwd"] = spec.cwd
        options = srun_options(resources, pmi_mode=self._pmi_mode, one_call=spec.one_shot)
        return [self._srun, *options, *worker_command(spec.ranks)], {}

    def spawn(self, spec: WorkerSpec) -> None:
        with self._said_lock:
            self._said[spec.identity] = _Srun()
        super().spawn(spec)
        process = self._jobs.get(spec.identity)
        said = self._said.get(spec.identity)
        if process is not None and said is not None:
            said.pid = process.pid
        timer = threading.Timer(_QUEUE_WINDOW, self._started_unless_queued, args=(spec.identity,))
        timer.daemon = True
        timer.start()

    def _started_unless_queued(self, identity: bytes) -> None:
        said = self._said.get(identity)
        if said is not None and not said.queued and not said.granted:
            said.granted = True
            self.report_started(identity)

    def on_stderr_line(self, identity: bytes, line: str) -> None:
        if not is_slurm_line(line):
            return
        said = self._said.get(identity)
        if said is None:
            return
        said.lines.append(line)
        said.job_id = said.job_id or job_id_in(line)
        kind = classify(line)
        if kind == NEVER:
            self._stop(identity, "the executor stopped srun: this cluster can never grant the request")
        elif kind in (QUEUED, STEP_WAIT):
            said.queued = True
        elif kind == GRANTED and not said.granted:
            said.granted = True
            self.report_started(identity)

    def exit_report(self, identity: bytes, returncode: int, tail: list[str]) -> tuple[int, str | None]:
        with self._said_lock:
            said = self._said.pop(identity, None)
        if said is None:
            return super().exit_report(identity, returncode, tail)
        if returncode == -signal.SIGKILL and said.pid is not None:
            cancel_jobs_of(said.pid, said.job_id)  # a SIGKILLed srun leaves its job's allocation behind
        text = quote(said.lines)  # SLURM's own lines only, not the task's output
        if said.reason:
            text = f"{text} ({said.reason})" if text else said.reason
        return task_signal(returncode, said.lines), text or None

    # ---- stopping ------------------------------------------------------------------------------------------
    def _stop(self, identity: bytes, reason: str | None = None) -> None:
        """SIGTERM srun now, SIGKILL it if it is still there after ``_TERM_GRACE``."""
        said = self._said.get(identity)
        if said is not None:
            if reason and said.reason is None:
                said.reason = reason
            if said.stopping:
                return
            said.stopping = True
        super().kill(identity, signal.SIGTERM)
        timer = threading.Timer(_TERM_GRACE, super().kill, args=(identity, signal.SIGKILL))
        timer.daemon = True
        timer.start()

    def kill(self, identity: bytes, signum: int) -> None:
        """Signal srun; SIGKILL becomes SIGTERM, then SIGKILL after a grace: srun then ends its job or step before
        it exits (a SIGKILLed srun leaves a pending job in the queue, and a running one for a while)."""
        if signum == signal.SIGKILL:
            self._stop(identity)
        else:
            super().kill(identity, signum)


class SrunLaunch:
    """The launch policy of ``SlurmJobExecutor``: every worker is an srun; SLURM assigns GPUs and CPUs."""

    assigns_gpus = True  # --gpus-per-task
    frees_on_exit = True  # a job's CPUs are SLURM's again only when the job has ended

    def __init__(
        self, *, remote_workers: bool, coverage: bool | None = None, pmi_mode: str | None = None, queue_timeout: float = 3600.0
    ) -> None:
        self.remote_workers = remote_workers
        self.hostname_localhost = not remote_workers
        self._options: dict[str, Any] = {"coverage": coverage, "pmi_mode": pmi_mode, "queue_timeout": queue_timeout}
        self._spawner: Spawner | None = None

    def unsupported(self, resources: Mapping[str, Any]) -> str | None:
        """srun takes every resource key; a call with several ranks needs mpi4py (ImportError naming the extra)."""
        if int(resources.get("cores") or 1) > 1:
            require_mpi4py()
        return None

    def environment(self, resources: Mapping[str, Any], devices: list[str]) -> dict[str, str]:
        return {**worker_environment(resources), **gpus.environment(devices)}

    def devices(self) -> list[str]:
        return []  # SLURM hands them out

    def spawner(self, resources: Mapping[str, Any], address: str, key: bytes) -> Spawner:
        if self._spawner is None:
            self._spawner = SrunSpawner(address, key, **self._options)
        return self._spawner


def require_mpi4py() -> None:
    import importlib.util

    from executor.errors import MissingExtraError

    if importlib.util.find_spec("mpi4py") is None:
        raise MissingExtraError("mpi4py", "mpi", "a call with cores > 1 (an MPI program)")
