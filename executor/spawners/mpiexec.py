"""MPI workers: ``mpiexec -n N python -m executor.worker.mpi``, one MPI job per worker.

Rank 0 connects to the executor; the other ranks receive each call from it over MPI.  The job runs in a session
of its own so a time limit or a shutdown can stop the whole tree (mpiexec, its proxies, all ranks) with one
``killpg``.  A small thread per job waits for it to exit and reports that through a pipe the scheduler polls.
"""

from __future__ import annotations

import functools
import pickle
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from executor import telemetry
from executor.channel.pipe import MessageReader, write_message
from executor.coverage.parent import launcher_environment, measure_workers
from executor.errors import MissingExtraError
from executor.spawners.base import Exited, Spawned, WorkerSpec
from executor.spawners.local import absolute_sys_path

_CLOSE_TIMEOUT = 5.0
_TERM_GRACE = 2.0  # seconds ranks get to save (coverage) after SIGTERM before SIGKILL
from executor.worker.mpi_config import CONFIG_VARIABLE  # noqa: E402  (shared with the worker, which must stay light)


@functools.lru_cache(maxsize=1)
def find_mpiexec() -> tuple[str, str]:
    """``(path, flavour)`` of the mpiexec next to this interpreter (the ``mpich`` wheel), else on PATH."""
    local = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    path = local if os.access(local, os.X_OK) else shutil.which("mpiexec")
    if path is None:
        raise MissingExtraError("mpiexec", "mpi", "a call with cores > 1 (an MPI program)")
    # Open MPI installs ompi_info beside its mpiexec; asking ``mpiexec --version`` would cost ~30 ms per process.
    openmpi = os.path.exists(os.path.join(os.path.dirname(os.path.realpath(path)), "ompi_info"))
    return path, "openmpi" if openmpi else "mpich"


@functools.lru_cache(maxsize=1)
def require_mpi() -> None:
    """Raise ``ImportError`` naming the ``mpi`` extra if mpi4py or mpiexec is missing (checked once)."""
    import importlib.util

    if importlib.util.find_spec("mpi4py") is None:
        raise MissingExtraError("mpi4py", "mpi", "a call with cores > 1 (an MPI program)")
    find_mpiexec()


def command(ranks: int, oversubscribe: bool, forward: list[str] | None = None) -> tuple[list[str], dict[str, str]]:
    """The mpiexec command line and the variables it needs; ``forward`` names variables every rank must get
    (MPICH passes the whole environment; Open MPI only what ``-x`` names)."""
    path, flavour = find_mpiexec()
    args = [path, "-n", str(ranks)]
    env: dict[str, str] = {}
    if flavour == "openmpi":
        for name in [CONFIG_VARIABLE, *(forward or [])]:
            args += ["-x", name]
        if oversubscribe:
            args.append("--oversubscribe")
        if os.geteuid() == 0:  # Open MPI refuses to run as root without both of these
            env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    # -c rather than -m: runpy costs every rank a few ms of imports
    return [*args, sys.executable, "-c", "from executor.worker.mpi import main; main()"], env


class MpiExecSpawner:
    def __init__(self, address: str, key: bytes, coverage: bool | None = None) -> None:
        self._address = address
        self._key = key
        # Ranks measure themselves when this process is measured (executor.coverage): the spec travels in
        # the environment, which mpiexec hands to every rank.
        self._measurement = measure_workers(coverage)
        self._coverage_env = launcher_environment(None if self._measurement is None else self._measurement.spec)
        self._events_r, self._events_w = os.pipe()
        self._reader = MessageReader()
        self._jobs: dict[bytes, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()
        # A rank whose call raises leaves its failure here and aborts the job (see executor.worker.mpi).
        self._failures = tempfile.mkdtemp(prefix="xlib-mpi-")

    def fileno(self) -> int:
        return self._events_r

    def in_sync(self) -> bool:
        return True  # every job is started from scratch with the caller's current environment

    def spawn(self, spec: WorkerSpec) -> None:
        args, extra_env = command(spec.ranks, spec.oversubscribe, forward=list(self._coverage_env))
        config = {
            "address": self._address,
            "identity": spec.identity,
            "key": self._key,
            "worker_id": spec.worker_id,
            "one_shot": spec.one_shot,
            "sys_path": absolute_sys_path(),
            "failure_file": os.path.join(self._failures, spec.identity.hex()),
        }
        # hex of a pickle: the worker already imports pickle (json would add ~4 ms per rank)
        env = {**os.environ, **extra_env, **self._coverage_env, **spec.env, CONFIG_VARIABLE: pickle.dumps(config).hex()}
        if spec.cwd is not None:
            os.makedirs(spec.cwd, exist_ok=True)
        job = subprocess.Popen(args, env=env, cwd=spec.cwd, stdin=subprocess.DEVNULL, start_new_session=True)
        with self._lock:
            self._jobs[spec.identity] = job
        write_message(self._events_w, ("spawned", spec.identity, job.pid))
        if self._coverage_env:
            telemetry.record("coverage_files", spec.ranks)
        threading.Thread(target=self._wait, args=(spec.identity, job), name="executor-mpiexec-wait", daemon=True).start()

    def _wait(self, identity: bytes, job: subprocess.Popen[bytes]) -> None:
        code = job.wait()
        path = os.path.join(self._failures, identity.hex())
        try:
            with open(path, "rb") as file:
                failure: bytes | None = file.read()
            os.remove(path)
        except OSError:
            failure = None
        with self._lock:
            self._jobs.pop(identity, None)
            if self._events_w >= 0:
                write_message(self._events_w, ("exited", identity, job.pid, code, failure))

    def read_events(self) -> list[Spawned | Exited]:
        out: list[Spawned | Exited] = []
        for event in self._reader.feed(os.read(self._events_r, 1 << 16)):
            out.append(Spawned(event[1], event[2]) if event[0] == "spawned" else Exited(*event[1:]))
        return out

    def kill(self, identity: bytes, signum: int) -> None:
        with self._lock:
            job = self._jobs.get(identity)
        if job is not None:
            try:
                os.killpg(job.pid, signum)  # mpiexec, its proxies and every rank
            except ProcessLookupError:
                pass

    def close(self) -> None:
        """Stop jobs still running (SIGTERM first: measured ranks save their coverage data), bounded."""
        with self._lock:
            jobs = list(self._jobs.values())
        for signum, grace in ((signal.SIGTERM, _TERM_GRACE), (signal.SIGKILL, _CLOSE_TIMEOUT)):
            for job in jobs:
                try:
                    os.killpg(job.pid, signum)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + grace
            for job in jobs:
                try:
                    job.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            jobs = [job for job in jobs if job.poll() is None]
            if not jobs:
                break
        if self._measurement is not None:
            self._measurement.fold()
        with self._lock:
            os.close(self._events_w)
            self._events_w = -1
        os.close(self._events_r)
        shutil.rmtree(self._failures, ignore_errors=True)
