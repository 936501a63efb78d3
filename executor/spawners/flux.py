"""flux workers: each worker is one flux job, submitted through ``flux.job.FluxExecutor``.

Layer: spawners.  Not a ``Popen`` launcher: nothing is started here but a job in the enclosing flux instance, and
everything that happens to it arrives as flux job events on the FluxExecutor's thread::

    spawn(spec) ─► JobspecV1 (flux_jobspec) ─► FluxExecutor.submit ─► future
    future: jobid callback ───────► Spawned(identity, "flux job ƒ...")  ─┐
            "start" event ────────► Started(identity)                     ├─► pipe ─► fileno() readable ─► scheduler
            "exception" / "finish" ─► kept; done ─► Exited(code, message) ─┘

* The command is the launched worker (``executor.worker.launched`` for one rank, ``executor.worker.mpi`` for
  more: the flux shell gives the ranks their PMI).  The worker's configuration (address, identity, **secret**)
  travels in the job's environment (``XLIB_WORKER_CONFIG``), which the worker removes before running a call;
  never on a command line.  The environment is part of the jobspec, which only the instance owner can read.
* ``Exited`` quotes flux: a fatal ``exception`` event as ``job.exception: type=alloc: unsatisfiable request ...``
  (an unsatisfiable request, a cancel, a time-out), a refused submission with flux's error, and the tail of the
  job's stderr file with ``flux_log_files``.  A task killed by signal N (flux: exit code 128+N) is code -N.
* ``kill``: a running job gets the signal (``flux.job.kill``); a job not running yet is cancelled
  (``flux.job.cancel``); a job whose id is not known yet gets it as soon as it is.  ``close`` cancels every job
  still active (flux sends SIGTERM, so measured workers save their coverage, then SIGKILL) and waits, bounded,
  until flux reports them ended: no job outlives the executor.
* The FluxExecutor is the caller's ``flux_executor`` (left running at close), else our own (shut down at close).
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
import threading
import time
from typing import Any

from executor import telemetry
from executor.channel.pipe import MessageReader, write_message
from executor.coverage.parent import launcher_environment, measure_workers
from executor.spawners.base import Event, Exited, Spawned, Started, WorkerSpec
from executor.spawners.flux_jobspec import build_jobspec, connect, exit_code, file_tail, import_flux
from executor.spawners.launched import worker_command
from executor.spawners.local import absolute_sys_path
from executor.worker.mpi_config import CONFIG_VARIABLE

# Workers waiting for flux's scheduler are not start failures: the pool gives a worker this long from submission
# to its "start" event (flux_executor's queue_timeout), then cancels it with a clear error.
QUEUE_TIMEOUT = 3600.0
_CLOSE_TIMEOUT = 15.0  # after a cancel flux sends SIGTERM, SIGKILL after its kill-timeout (5 s): wait this long


class _Job:
    """One worker's flux job and what flux said about it (written by FluxExecutor threads under the lock)."""

    __slots__ = ("future", "jobid", "started", "status", "exception", "pending_signal", "log_prefix", "ended")

    def __init__(self, log_prefix: str | None) -> None:
        self.future: Any = None
        self.jobid: Any = None
        self.started = False
        self.status: int | None = None  # wait status from the "finish" event
        self.exception: str | None = None  # the fatal exception event, as flux words it
        self.pending_signal: int | None = None  # kill() before the job id was known
        self.log_prefix = log_prefix
        self.ended = threading.Event()


class FluxSpawner:
    """Start each worker as a flux job; report its events; cancel what is left at close."""

    name = "flux"

    def __init__(
        self,
        address: str,
        key: bytes,
        coverage: bool | None = None,
        *,
        flux_executor: Any = None,
        nesting: bool = False,
        log_files: bool = False,
        pmi_mode: str | None = None,
        queue_timeout: float = QUEUE_TIMEOUT,
    ) -> None:
        self._flux = import_flux()
        self._handle = connect(self._flux)  # for kill/cancel; no instance: a clear error here
        self._handle_lock = threading.Lock()  # a flux handle is not thread-safe
        self._own_executor = flux_executor is None
        self._executor = self._flux.job.FluxExecutor() if flux_executor is None else flux_executor
        self._address = address
        self._key = key
        self._nesting = nesting
        self._log_files = log_files
        self._pmi_mode = pmi_mode
        self.start_timeout: float | None = queue_timeout
        self._measurement = measure_workers(coverage)
        self.coverage_env = launcher_environment(None if self._measurement is None else self._measurement.spec)
        self._events_r, self._events_w = os.pipe()
        self._reader = MessageReader()
        self._jobs: dict[bytes, _Job] = {}
        self._lock = threading.Lock()
        self._closing = False
        self._dir = tempfile.mkdtemp(prefix="xlib-flux-")  # failure files of MPI workers

    # ---- Spawner ----------------------------------------------------------------------------------------------
    def fileno(self) -> int:
        return self._events_r

    def in_sync(self) -> bool:
        return True  # every worker is a new job with the caller's current environment

    def spawn(self, spec: WorkerSpec) -> None:
        ranks = 1 if self._nesting else spec.ranks  # nested: one process, the initial program of a flux instance
        config = {
            "address": self._address,
            "identity": spec.identity,
            "key": self._key,
            "worker_id": spec.worker_id,
            "one_shot": spec.one_shot,
            "sys_path": absolute_sys_path(),
            "failure_file": os.path.join(self._dir, spec.identity.hex()),
        }
        env = {**os.environ, **self.coverage_env, **spec.env, CONFIG_VARIABLE: pickle.dumps(config).hex()}
        if spec.cwd is not None:
            os.makedirs(spec.cwd, exist_ok=True)
        log_prefix = None
        if self._log_files:
            log_prefix = os.path.join(spec.cwd or os.path.abspath("."), f"flux_{spec.worker_id}")
        jobspec = build_jobspec(
            self._flux,
            worker_command(ranks),
            spec.resources,
            nesting=self._nesting,
            pmi_mode=self._pmi_mode,
            one_call=spec.one_shot,
            environment=env,
            cwd=spec.cwd,
            log_prefix=log_prefix,
        )
        priority = spec.resources.get("priority")
        job = _Job(log_prefix)
        with self._lock:
            self._jobs[spec.identity] = job
        try:
            if priority is None:
                job.future = self._executor.submit(jobspec)
            else:
                job.future = self._executor.submit(jobspec, urgency=priority)
        except BaseException:
            with self._lock:
                self._jobs.pop(spec.identity, None)
            raise
        if self.coverage_env:
            telemetry.record("coverage_files", ranks)
        identity = spec.identity
        job.future.add_jobid_callback(lambda future: self._on_jobid(identity, job, future))
        job.future.add_event_callback("start", lambda future, event: self._on_start(identity, job))
        job.future.add_event_callback("exception", lambda future, event: self._on_exception(job, event))
        job.future.add_event_callback("finish", lambda future, event: self._on_finish(job, event))
        job.future.add_done_callback(lambda future: self._on_done(identity, job, future))

    # ---- flux's callbacks (FluxExecutor threads) ----------------------------------------------------------------
    def _on_jobid(self, identity: bytes, job: _Job, future: Any) -> None:
        try:
            job.jobid = future.jobid()
        except Exception:  # submission failed: _on_done reports flux's error
            return
        self._emit(("spawned", identity, f"flux job {job.jobid}"))
        with self._lock:
            signum, closing = job.pending_signal, self._closing
        if closing:
            self._cancel(job)
        elif signum is not None:
            self._signal(job, signum)

    def _on_start(self, identity: bytes, job: _Job) -> None:
        job.started = True
        self._emit(("started", identity))

    @staticmethod
    def _on_exception(job: _Job, event: Any) -> None:
        context = event.context
        if context.get("severity", 0) == 0 and job.exception is None:
            note = context.get("note") or ""
            job.exception = f"job.exception: type={context.get('type')}: {note}".rstrip(": ")

    @staticmethod
    def _on_finish(job: _Job, event: Any) -> None:
        status = event.context.get("status")
        job.status = int(status) if status is not None else None

    def _on_done(self, identity: bytes, job: _Job, future: Any) -> None:
        if job.status is not None or job.exception is not None or future.cancelled():
            self._report_end(identity, job, future)
        else:  # no finish/exception event: the submission failed; flux forbids result() on its own thread
            threading.Thread(target=self._report_end, args=(identity, job, future), name="executor-flux-end", daemon=True).start()

    def _report_end(self, identity: bytes, job: _Job, future: Any) -> None:
        """Emit the worker's Exited event, always (a scheduler waits for it)."""
        try:
            code, failure, message = self._describe_end(identity, job, future)
        except Exception as error:  # never lose the event: the call would wait for the start/connect bounds
            code, failure, message = None, None, f"reading the end of the flux job failed: {error!r}"
        with self._lock:
            self._jobs.pop(identity, None)
        self._emit(("exited", identity, code, failure, message))
        job.ended.set()

    def _describe_end(self, identity: bytes, job: _Job, future: Any) -> tuple[int | None, bytes | None, str | None]:
        said: list[str] = []
        result: int | None = None
        if future.cancelled():
            said.append("the flux job was cancelled before it was submitted")
        elif job.status is None and job.exception is None:
            error = future.exception()
            if error is None:
                result = future.result()
            else:
                said.append(f"flux did not accept the job: {error}")
        if job.exception is not None:
            said.append(job.exception)
        code = exit_code(job.status, result)
        tail = file_tail(job.log_prefix + ".err") if job.log_prefix else None
        if tail and code != 0:
            said.append(f"its stderr ({job.log_prefix}.err) ends with: {tail}")
        path = os.path.join(self._dir, identity.hex())
        try:
            with open(path, "rb") as file:
                failure: bytes | None = file.read()
            os.remove(path)
        except OSError:
            failure = None
        return code, failure, "; ".join(said) or None

    def _emit(self, event: tuple[Any, ...]) -> None:
        with self._lock:
            if self._events_w >= 0:
                write_message(self._events_w, event)

    def read_events(self) -> list[Event]:
        out: list[Event] = []
        for event in self._reader.feed(os.read(self._events_r, 1 << 16)):
            if event[0] == "spawned":
                out.append(Spawned(event[1], event[2]))
            elif event[0] == "started":
                out.append(Started(event[1]))
            else:
                out.append(Exited(*event[1:]))
        return out

    # ---- stopping ---------------------------------------------------------------------------------------------
    def kill(self, identity: bytes, signum: int) -> None:
        """Signal a running job's tasks; cancel a job that is not running yet."""
        with self._lock:
            job = self._jobs.get(identity)
            if job is not None and job.jobid is None:
                job.pending_signal = signum  # delivered by _on_jobid
                return
        if job is not None:
            self._signal(job, signum)

    def _signal(self, job: _Job, signum: int) -> None:
        if job.started:
            self._call(self._flux.job.kill, job, signum)
        else:
            self._cancel(job)

    def _cancel(self, job: _Job) -> None:
        self._call(self._flux.job.cancel, job)

    def _call(self, function: Any, job: _Job, *args: Any) -> None:
        try:
            with self._handle_lock:
                function(self._handle, job.jobid, *args)
        except OSError:  # the job ended meanwhile (flux: "job is inactive" / unknown id)
            pass

    def close(self) -> None:
        """Cancel every job still active and wait (bounded) until flux reports it ended."""
        with self._lock:
            self._closing = True
            jobs = list(self._jobs.values())
        for job in jobs:
            if job.jobid is not None:
                self._cancel(job)
        deadline = time.monotonic() + _CLOSE_TIMEOUT
        ended = all(job.ended.wait(max(0.0, deadline - time.monotonic())) for job in jobs)
        if self._own_executor:
            self._executor.shutdown(wait=ended)
        if self._measurement is not None:
            self._measurement.fold()
        with self._lock:
            os.close(self._events_w)
            self._events_w = -1
        os.close(self._events_r)
        close = getattr(self._handle, "close", None)
        if close is not None:
            with self._handle_lock:
                close()
        shutil.rmtree(self._dir, ignore_errors=True)

