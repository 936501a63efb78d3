"""``LaunchedSpawner``: the base of spawners that start every worker with a launcher command.

Layer: spawners.  A launcher (``mpiexec``, ``srun``, ``flux run``) is a subclass that only says how to build its
command line from the worker's resources::

    class SrunSpawner(LaunchedSpawner):
        name = "srun"
        capture_stderr = True          # so a start failure quotes srun's own message
        def command(self, spec):       # argv and extra environment variables for this worker
            return ["srun", "-n", str(spec.ranks), ..., *self.worker_command(spec)], {}

Everything else lives here, once:

- ``Popen`` in a session of its own, so a time limit or a shutdown stops the whole tree (launcher, its proxies,
  every rank) with one ``killpg``;
- the worker's configuration (address, identity) travels in an environment variable the worker removes before
  running anything, never on the command line; the secret too, unless ``key_in_file`` (ranks on this host:
  ``mpiexec``): then it is in a file only this user can read, which rank 0 removes once read (a process's
  initial environment stays readable in ``/proc/<pid>/environ``), and which is removed at exit in any case;
- one waiter thread per worker waits for the launcher to exit and reports ``Exited`` through a pipe the
  scheduler polls (``fileno()``), with the failure a rank left in the *failure file* before aborting the job
  (see ``executor.worker.mpi``) and, with ``capture_stderr``, the tail of the launcher's stderr (still
  forwarded to this process's stderr as it comes);
- ``Started`` is reported at launch (``starts_at_launch``), or by the subclass calling ``report_started`` when
  its launcher says the resources are allocated (``on_stderr_line``); ``start_timeout`` bounds the time in
  between and is set per launcher instance (srun may wait in a queue far longer than mpiexec);
- ``close()`` sends SIGTERM (ranks save their coverage data), then SIGKILL, each bounded.

A one-rank worker runs ``executor.worker.launched`` and does not need mpi4py; more ranks run
``executor.worker.mpi``.
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
from typing import IO, Any

from executor import telemetry
from executor.channel.pipe import MessageReader, write_message
from executor.coverage.parent import launcher_environment, measure_workers
from executor.spawners.base import Event, Exited, Spawned, Started, WorkerSpec
from executor.spawners.local import absolute_sys_path
from executor.worker.mpi_config import CONFIG_VARIABLE

_TERM_GRACE = 2.0  # seconds ranks get to save (coverage) after SIGTERM before SIGKILL
_CLOSE_TIMEOUT = 5.0  # then this long for SIGKILL to take effect
_STDERR_TAIL = 20  # lines of the launcher's stderr quoted in an Exited event
_READER_JOIN = 1.0  # a rank may keep stderr open after the launcher exited: stop waiting for EOF after this


class LaunchedSpawner:
    """Start each worker with ``command(spec)``; report Spawned/Started/Exited; stop it with signals."""

    name = "launcher"  # for messages
    starts_at_launch = True  # False: the subclass calls report_started() when the launcher says so
    capture_stderr = False  # True: keep the launcher's stderr tail for the Exited event (still forwarded)
    key_in_file = False  # True: the secret in a private file, not the environment (every rank on this host)

    def __init__(self, address: str, key: bytes, coverage: bool | None = None, *, start_timeout: float | None = None) -> None:
        self.start_timeout = start_timeout
        self._address = address
        self._key = key
        # Ranks measure themselves when this process is measured (executor.coverage): the spec travels in
        # the environment, which the launcher hands to every rank.
        self._measurement = measure_workers(coverage)
        self.coverage_env = launcher_environment(None if self._measurement is None else self._measurement.spec)
        self._events_r, self._events_w = os.pipe()
        self._reader = MessageReader()
        self._jobs: dict[bytes, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()
        self._dir = tempfile.mkdtemp(prefix=f"xlib-{self.name}-")  # failure files

    # ---- the hook -----------------------------------------------------------------------------------------
    def command(self, spec: WorkerSpec) -> tuple[list[str], dict[str, str]]:
        """The launcher's argv for ``spec`` (ending in ``worker_command(spec)``) and variables it needs."""
        raise NotImplementedError

    def on_stderr_line(self, identity: bytes, line: str) -> None:
        """Called (waiter thread) for each stderr line when ``capture_stderr``; may call ``report_started``."""

    def exit_report(self, identity: bytes, returncode: int, tail: list[str]) -> tuple[int, str | None]:
        """The worker's exit code and what the launcher said, for the ``Exited`` event (waiter thread, after the
        launcher exited): by default the launcher's own code and the tail of its stderr.  A subclass may read
        its launcher's way of reporting a signal (srun: 128 + n), keep only the launcher's own lines, or say
        why it stopped the launcher."""
        return returncode, "".join(tail).strip() or None

    # ---- helpers for subclasses -----------------------------------------------------------------------------
    @staticmethod
    def worker_command(spec: WorkerSpec) -> list[str]:
        """The worker program for ``spec`` (see ``worker_command``)."""
        return worker_command(spec.ranks)

    def report_started(self, identity: bytes) -> None:
        """The worker really runs now (any thread)."""
        self._emit(("started", identity))

    def failure_file(self, identity: bytes) -> str:
        return os.path.join(self._dir, identity.hex())

    def key_file(self, identity: bytes) -> str:
        return os.path.join(self._dir, identity.hex() + ".key")

    def _write_key(self, identity: bytes) -> str:
        path = self.key_file(identity)  # in our mkdtemp directory (mode 0700), itself 0600
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, self._key)
        finally:
            os.close(fd)
        return path

    # ---- Spawner --------------------------------------------------------------------------------------------
    def fileno(self) -> int:
        return self._events_r

    def in_sync(self) -> bool:
        return True  # every worker is started from scratch with the caller's current environment

    def spawn(self, spec: WorkerSpec) -> None:
        args, extra_env = self.command(spec)
        config = {
            "address": self._address,
            "identity": spec.identity,
            "key": None if self.key_in_file else self._key,
            "key_file": self._write_key(spec.identity) if self.key_in_file else None,
            "worker_id": spec.worker_id,
            "one_shot": spec.one_shot,
            "sys_path": absolute_sys_path(),
            "failure_file": self.failure_file(spec.identity),
        }
        # hex of a pickle: the worker already imports pickle (json would add ~4 ms per rank)
        env = {**os.environ, **extra_env, **self.coverage_env, **spec.env, CONFIG_VARIABLE: pickle.dumps(config).hex()}
        if spec.cwd is not None:
            os.makedirs(spec.cwd, exist_ok=True)
        stderr = subprocess.PIPE if self.capture_stderr else None
        job = subprocess.Popen(args, env=env, cwd=spec.cwd, stdin=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
        with self._lock:
            self._jobs[spec.identity] = job
        self._emit(("spawned", spec.identity, f"process {job.pid}"))
        if self.starts_at_launch:
            self._emit(("started", spec.identity))
        if self.coverage_env:
            telemetry.record("coverage_files", spec.ranks)
        threading.Thread(target=self._wait, args=(spec.identity, job), name=f"executor-{self.name}-wait", daemon=True).start()

    def _emit(self, event: tuple[Any, ...]) -> None:
        with self._lock:
            if self._events_w >= 0:
                write_message(self._events_w, event)

    def _wait(self, identity: bytes, job: subprocess.Popen[bytes]) -> None:
        tail: collections.deque[str] = collections.deque(maxlen=_STDERR_TAIL)
        reader = None
        if job.stderr is not None:
            reader = threading.Thread(target=self._read_stderr, args=(identity, job.stderr, tail), daemon=True)
            reader.start()
        code = job.wait()
        if reader is not None:
            reader.join(_READER_JOIN)
        try:
            os.remove(self.key_file(identity))  # rank 0 never started, or died before reading it
        except OSError:
            pass
        path = self.failure_file(identity)
        try:
            with open(path, "rb") as file:
                failure: bytes | None = file.read()
            os.remove(path)
        except OSError:
            failure = None
        code, message = self.exit_report(identity, code, list(tail))
        with self._lock:
            self._jobs.pop(identity, None)
        self._emit(("exited", identity, code, failure, message))

    def _read_stderr(self, identity: bytes, stream: IO[bytes], tail: collections.deque[str]) -> None:
        with stream:
            for raw in stream:
                try:
                    sys.stderr.buffer.write(raw)
                    sys.stderr.flush()
                except (AttributeError, OSError, ValueError):  # stderr replaced (pytest capture) or closed
                    pass
                line = raw.decode(errors="replace")
                tail.append(line)
                self.on_stderr_line(identity, line)

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

    def kill(self, identity: bytes, signum: int) -> None:
        with self._lock:
            job = self._jobs.get(identity)
        if job is not None:
            _killpg(job, signum)  # the launcher, its proxies and every rank

    def close(self) -> None:
        """Stop workers still running (SIGTERM first: measured ranks save their coverage data), bounded."""
        with self._lock:
            jobs = list(self._jobs.values())
        for signum, grace in ((signal.SIGTERM, _TERM_GRACE), (signal.SIGKILL, _CLOSE_TIMEOUT)):
            for job in jobs:
                _killpg(job, signum)
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
        shutil.rmtree(self._dir, ignore_errors=True)


def worker_command(ranks: int) -> list[str]:
    """``python -c ...`` for a worker of ``ranks`` ranks (one rank needs no mpi4py); -c rather than -m: runpy
    costs every rank a few ms of imports."""
    module = "executor.worker.mpi" if ranks > 1 else "executor.worker.launched"
    return [sys.executable, "-c", f"from {module} import main; main()"]


def _killpg(job: subprocess.Popen[bytes], signum: int) -> None:
    try:
        os.killpg(job.pid, signum)
    except ProcessLookupError:
        pass
