"""SLURM workers: ``srun [options] python -c "...worker main()"``, one srun per worker.

Layer: spawners.  Structured like ``mpiexec.py`` (Popen in a session of its own, one waiter thread per worker
reporting through a pipe the scheduler polls, SIGTERM before SIGKILL), so it becomes a ``command(spec)``
subclass of the core's ``LaunchedSpawner``.  What srun adds::

    srun ──stderr──► reader thread ─┬─► forwarded to this process's stderr (the task's output comes this way too)
                                    ├─► SLURM's own lines kept (quoted when the worker is lost)
                                    └─► classify(): "never satisfiable" -> stop srun now;
                                                    "queued" / "step creation disabled" -> stop it if not
                                                    granted within queue_timeout
    srun exits ──► waiter thread ──► Exited(message = what srun said) ──► the call fails quoting srun

* The worker's configuration (address, identity, **secret**) travels in ``XLIB_WORKER_CONFIG``: srun exports the
  environment to the task, the worker removes the variable before running a call; never on a command line.
* One rank runs ``executor.worker.launched`` (no mpi4py); more run ``executor.worker.mpi``.
* Stopping srun: SIGTERM first (srun then cancels its job or step and revokes a pending allocation; a SIGKILLed
  srun leaves a pending job in the queue forever), SIGKILL only after ``_TERM_GRACE``, then ``scancel`` of the job
  id srun printed, if any.
"""

from __future__ import annotations

import collections
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from typing import IO, Any

from executor import telemetry
from executor.channel.pipe import MessageReader, write_message
from executor.coverage.parent import launcher_environment, measure_workers
from executor.spawners.base import Exited, Spawned, WorkerSpec
from executor.spawners.local import absolute_sys_path
from executor.spawners.slurm_cluster import find_srun, scancel
from executor.spawners.srun_command import GRANTED, NEVER, QUEUED, STEP_WAIT, classify, is_slurm_line, job_id_in, quote, srun_options
from executor.worker.mpi_config import CONFIG_VARIABLE

_TERM_GRACE = 2.0  # seconds srun gets after SIGTERM (it cancels the step, ranks save coverage) before SIGKILL
_CLOSE_TIMEOUT = 5.0  # then this long for SIGKILL to take effect
_READER_JOIN = 1.0  # after srun exited, wait at most this long for the last stderr lines
_QUOTED_LINES = 8  # SLURM lines quoted in an error
# Workers waiting in the queue are not start failures: the scheduler's start timeout for srun workers is the
# queue timeout plus this (interpreter start and connection after the resources are granted).
CONNECT_ALLOWANCE = 120.0


class _Job:
    """One srun and what it said."""

    __slots__ = ("process", "slurm_lines", "job_id", "reason", "granted", "stopping", "timer", "reader")

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.slurm_lines: collections.deque[str] = collections.deque(maxlen=_QUOTED_LINES)
        self.job_id: str | None = None
        self.reason: str | None = None  # why we stopped it ourselves
        self.granted = False
        self.stopping = False
        self.timer: threading.Timer | None = None
        self.reader: threading.Thread | None = None


class SrunSpawner:
    """Start each worker with its own srun (a new job outside an allocation, a new step inside one)."""

    name = "srun"

    def __init__(
        self,
        address: str,
        key: bytes,
        coverage: bool | None = None,
        *,
        pmi_mode: str | None = None,
        defaults: Mapping[str, Any] | None = None,
        queue_timeout: float = 3600.0,
    ) -> None:
        self._srun = find_srun()
        self._address = address
        self._key = key
        self._pmi_mode = pmi_mode
        self._defaults = dict(defaults or {})  # resources of workers whose spec carries none (block allocation)
        self.queue_timeout = queue_timeout
        self.start_timeout = queue_timeout + CONNECT_ALLOWANCE
        # Workers measure themselves when this process is measured: the spec travels in the environment, which
        # srun exports to every task (as mpiexec does).
        self._measurement = measure_workers(coverage)
        self._coverage_env = launcher_environment(None if self._measurement is None else self._measurement.spec)
        self._events_r, self._events_w = os.pipe()
        self._reader = MessageReader()
        self._jobs: dict[bytes, _Job] = {}
        self._lock = threading.Lock()
        self._failures = tempfile.mkdtemp(prefix="xlib-srun-")  # an MPI rank's failure before it aborts the job

    # ---- the command ----------------------------------------------------------------------------------------
    def command(self, spec: WorkerSpec) -> list[str]:
        """srun's argv for ``spec``: its options from the worker's resources, then the worker."""
        resources = {**self._defaults, **(getattr(spec, "resources", None) or {})}
        resources["cores"] = spec.ranks
        if spec.cwd is not None:
            resources["cwd"] = spec.cwd
        module = "executor.worker.mpi" if spec.ranks > 1 else "executor.worker.launched"
        options = srun_options(resources, pmi_mode=self._pmi_mode, one_call=spec.one_shot)
        # -c rather than -m: runpy costs every rank a few ms of imports
        return [self._srun, *options, sys.executable, "-c", f"from {module} import main; main()"]

    # ---- Spawner ----------------------------------------------------------------------------------------------
    def fileno(self) -> int:
        return self._events_r

    def in_sync(self) -> bool:
        return True  # every worker is started from scratch with the caller's current environment

    def spawn(self, spec: WorkerSpec) -> None:
        args = self.command(spec)
        config = {
            "address": self._address,
            "identity": spec.identity,
            "key": self._key,
            "worker_id": spec.worker_id,
            "one_shot": spec.one_shot,
            "sys_path": absolute_sys_path(),
            "failure_file": os.path.join(self._failures, spec.identity.hex()),
        }
        env = {**os.environ, **self._coverage_env, **spec.env, CONFIG_VARIABLE: pickle.dumps(config).hex()}
        if spec.cwd is not None:
            os.makedirs(spec.cwd, exist_ok=True)
        process = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        job = _Job(process)
        with self._lock:
            self._jobs[spec.identity] = job
        self._emit(("spawned", spec.identity, process.pid))
        if self._coverage_env:
            telemetry.record("coverage_files", spec.ranks)
        job.reader = threading.Thread(target=self._read, args=(spec.identity, job), name="executor-srun-stderr", daemon=True)
        job.reader.start()
        threading.Thread(target=self._wait, args=(spec.identity, job), name="executor-srun-wait", daemon=True).start()

    def _emit(self, event: tuple[Any, ...]) -> None:
        with self._lock:
            if self._events_w >= 0:
                write_message(self._events_w, event)

    def _read(self, identity: bytes, job: _Job) -> None:
        """Forward srun's stderr, keep SLURM's own lines, act on what they say about the request."""
        stream: IO[bytes] = job.process.stderr  # type: ignore[assignment]
        with stream:
            for raw in stream:
                _forward(raw)
                line = raw.decode(errors="replace")
                if not is_slurm_line(line):
                    continue
                job.slurm_lines.append(line)
                job.job_id = job.job_id or job_id_in(line)
                kind = classify(line)
                if kind == NEVER:
                    self._stop(job, "srun asked for resources this cluster can never grant, so it was stopped")
                elif kind in (QUEUED, STEP_WAIT) and job.timer is None and not job.granted:
                    job.timer = threading.Timer(self.queue_timeout, self._queue_expired, args=(job,))
                    job.timer.daemon = True
                    job.timer.start()
                elif kind == GRANTED:
                    job.granted = True
                    if job.timer is not None:
                        job.timer.cancel()

    def _queue_expired(self, job: _Job) -> None:
        if not job.granted:
            self._stop(job, f"srun waited {self.queue_timeout:g} s for resources (queue_timeout) without getting them, so it was stopped")

    def _wait(self, identity: bytes, job: _Job) -> None:
        code = job.process.wait()
        if job.reader is not None:
            job.reader.join(_READER_JOIN)
        if job.timer is not None:
            job.timer.cancel()
        path = os.path.join(self._failures, identity.hex())
        try:
            with open(path, "rb") as file:
                failure: bytes | None = file.read()
            os.remove(path)
        except OSError:
            failure = None
        said = quote(job.slurm_lines)
        message = f"srun (process {job.process.pid}) exited with code {code}"
        if job.reason:
            message = f"{job.reason}; {message}"
        if said:
            message += f' (srun said: "{said}")'
        with self._lock:
            self._jobs.pop(identity, None)
        self._emit(("exited", identity, job.process.pid, code, failure, message))

    def read_events(self) -> list[Spawned | Exited]:
        out: list[Spawned | Exited] = []
        for event in self._reader.feed(os.read(self._events_r, 1 << 16)):
            out.append(Spawned(event[1], event[2]) if event[0] == "spawned" else Exited(*event[1:]))
        return out

    # ---- stopping ------------------------------------------------------------------------------------------
    def _stop(self, job: _Job, reason: str | None = None) -> None:
        """SIGTERM srun now, SIGKILL it (and scancel its job) if it is still there after ``_TERM_GRACE``."""
        if reason and job.reason is None:
            job.reason = reason
        if job.stopping:
            return
        job.stopping = True
        _signal(job.process, signal.SIGTERM)
        timer = threading.Timer(_TERM_GRACE, self._force, args=(job,))
        timer.daemon = True
        timer.start()

    def _force(self, job: _Job) -> None:
        if job.process.poll() is None:
            _signal(job.process, signal.SIGKILL)
            scancel(job.job_id)

    def kill(self, identity: bytes, signum: int) -> None:
        """Stop a worker; SIGKILL is delivered as SIGTERM-then-SIGKILL (a SIGKILLed srun can leave its job queued)."""
        with self._lock:
            job = self._jobs.get(identity)
        if job is None:
            return
        if signum == signal.SIGKILL:
            self._stop(job)
        else:
            _signal(job.process, signum)

    def close(self) -> None:
        """Stop the sruns still running (SIGTERM first: srun cancels its step, ranks save coverage), bounded."""
        with self._lock:
            jobs = list(self._jobs.values())
        for signum, grace in ((signal.SIGTERM, _TERM_GRACE), (signal.SIGKILL, _CLOSE_TIMEOUT)):
            for job in jobs:
                _signal(job.process, signum)
            deadline = time.monotonic() + grace
            for job in jobs:
                try:
                    job.process.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            jobs = [job for job in jobs if job.process.poll() is None]
            if not jobs:
                break
            if signum == signal.SIGKILL:
                for job in jobs:
                    scancel(job.job_id)
        if self._measurement is not None:
            self._measurement.fold()
        with self._lock:
            os.close(self._events_w)
            self._events_w = -1
        os.close(self._events_r)
        shutil.rmtree(self._failures, ignore_errors=True)


def _forward(raw: bytes) -> None:
    """Pass a line of srun's stderr (SLURM's or the task's) on to this process's stderr."""
    try:
        buffer = getattr(sys.stderr, "buffer", None)
        if buffer is not None:
            buffer.write(raw)
        else:
            sys.stderr.write(raw.decode(errors="replace"))
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed or replaced
        pass


def _signal(process: subprocess.Popen[bytes], signum: int) -> None:
    try:
        os.killpg(process.pid, signum)  # srun and anything it started locally
    except ProcessLookupError:
        pass
