"""Local workers, forked from a pre-imported template process (``executor.worker.forkserver``).

The template is started when the executor is built, before the channel exists (``LocalLaunch.prepare``):
its start-up (an interpreter and the worker's imports) then overlaps with the executor's own work, and
``configure()`` hands it the channel's address and secret once the scheduler thread has bound it.  So by the
time the first call arrives it is (nearly) ready.  The parent keeps the template's environment, working directory and ``sys.path`` in step with its own
before each fork, so a worker sees what a freshly started ``python`` would see from the caller, at the
moment of the call.

Coverage: when this process is measured, the channel config carries a coverage spec and every worker measures
itself (``executor.coverage``); the template is never measured, so coverage's own start-up variables are kept
out of its environment.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

from executor import telemetry
from executor.channel.pipe import MessageReader, write_message
from executor.coverage.parent import measure_workers, template_environment, warn_once
from executor.spawners.base import Event, Exited, Spawned, Started, WorkerSpec

_CLOSE_TIMEOUT = 5.0  # the template gives its children 2 s after SIGTERM; then we stop waiting and kill it
_MAX_TEMPLATE_LOSSES = 3  # consecutive template deaths before it was ready: give up instead of looping


class SpawnerBroken(RuntimeError):
    """The fork server keeps dying before it is ready (e.g. the interpreter cannot import pyzmq)."""


def absolute_sys_path() -> list[str]:
    """The caller's ``sys.path`` with relative entries (``""`` from ``python -c``, the REPL, Jupyter) made absolute:
    a worker may run in another ``cwd``, and must import the caller's modules all the same."""
    return [os.path.abspath(entry) if not os.path.isabs(entry) else entry for entry in sys.path]


def package_root() -> str:
    """The directory holding the ``executor`` package (this file is ``<root>/executor/spawners/local.py``)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class ForkServerSpawner:
    """Parent side of the fork server; used only from the scheduler thread (plus ``__init__``/``close``)."""

    start_timeout: float | None = None  # a fork starts at once: Started comes with Spawned

    def __init__(self, address: str | None = None, key: bytes | None = None, coverage: bool | None = None) -> None:
        """Start the template now; without ``address`` and ``key`` it cannot fork workers until ``configure()``
        gives them (so it can start before the channel is bound, see ``LocalLaunch.prepare``)."""
        self._coverage = coverage  # see SingleNodeExecutor(worker_coverage=...)
        self._measurement = measure_workers(coverage)
        spec = None if self._measurement is None else self._measurement.spec
        self._config: dict[str, Any] = {"coverage": spec}
        self._reader = MessageReader()
        self._pids: dict[bytes, int] = {}
        self._pending: dict[bytes, WorkerSpec] = {}  # requested, not yet reported spawned
        self._kill_on_spawn: dict[bytes, int] = {}
        self._sent: dict[str, Any] = {}
        self._losses = 0
        self._closed = False
        self.generation = 0  # bumped whenever the environment, cwd or sys.path sent to the template changes
        self._start()
        if address is not None and key is not None:
            self.configure(address, key)

    def configure(self, address: str, key: bytes) -> None:
        """Tell the template where workers connect and the channel's secret (once; later calls are ignored)."""
        if "address" not in self._config:
            self._config.update(address=address, key=key)
            # The secret travels through the pipe, never on the command line or in the environment.
            write_message(self._requests, ("config", {"address": address, "key": key}))

    def _start(self) -> None:
        read_fd, write_fd = os.pipe()
        env = template_environment(dict(os.environ))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root(), env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from executor.worker.forkserver import main; main()", str(write_fd)],
            stdin=subprocess.PIPE,
            pass_fds=(write_fd,),
            env=env,
        )
        os.close(write_fd)
        self._events = read_fd
        self._requests = self.process.stdin.fileno()  # type: ignore[union-attr]
        self._sent = {}
        if self._config["coverage"] is not None:
            self._sync("path", absolute_sys_path())  # so that the template imports the coverage this process runs
        # The coverage spec first, on its own: the template starts importing coverage (~90 ms) as soon as it
        # reads it, while this process is still binding the channel.  A restarted template gets all at once.
        write_message(self._requests, ("config", self._config))

    def fileno(self) -> int:
        return self._events

    def _sync(self, kind: str, value: Any) -> None:
        if self._sent.get(kind) != value:
            write_message(self._requests, (kind, value))
            self._sent[kind] = value
            self.generation += 1  # workers forked before this saw something else

    def in_sync(self) -> bool:
        """Whether workers forked now would see the same environment, cwd and sys.path as the last ones."""
        sent = self._sent
        return sent.get("path") == absolute_sys_path() and sent.get("cwd") == os.getcwd() and sent.get("env") == dict(os.environ)

    def spawn(self, spec: WorkerSpec) -> None:
        if "address" not in self._config:
            raise RuntimeError("ForkServerSpawner.spawn() before configure(): the template does not know the channel")
        if self._losses >= _MAX_TEMPLATE_LOSSES:
            raise SpawnerBroken(
                f"the worker template process ({sys.executable}) exited {self._losses} times before it was ready; "
                "its error output above says why"
            )
        self._sync("env", dict(os.environ))
        self._sync("cwd", os.getcwd())
        self._sync("path", absolute_sys_path())
        self._pending[spec.identity] = spec
        write_message(self._requests, ("spawn", spec.identity, spec.worker_id, spec.one_shot, dict(spec.env), spec.cwd))

    def read_events(self) -> list[Event]:
        chunk = os.read(self._events, 1 << 16)
        if not chunk:  # the template died: every worker it had (or was about to fork) is lost
            return self._template_lost()
        out: list[Event] = []
        for event in self._reader.feed(chunk):
            if event[0] == "ready":
                self._losses = 0
            elif event[0] == "spawned":
                self._pending.pop(event[1], None)
                self._pids[event[1]] = event[2]
                out += [Spawned(event[1], f"process {event[2]}"), Started(event[1])]
                if self._config["coverage"] is not None:
                    telemetry.record("coverage_files")
                signum = self._kill_on_spawn.pop(event[1], None)
                if signum is not None:
                    self.kill(event[1], signum)
            elif event[0] == "exited":
                self._pids.pop(event[1], None)
                out.append(Exited(event[1], event[3]))
            elif event[0] == "coverage_off":
                self._coverage_off(event[1])
        return out

    def _coverage_off(self, problem: str) -> None:
        """The template or a worker could not start coverage: warn once, and let later workers run unmeasured."""
        try:
            warn_once(problem)
        except Exception as raised:  # warnings are errors: still never into the scheduler thread
            sys.stderr.write(f"executor: {raised}\n")
        if self._config["coverage"] is not None:
            self._config["coverage"] = None
            write_message(self._requests, ("coverage", None))

    def _template_lost(self) -> list[Event]:
        lost: list[Event] = []
        for identity, pid in self._pids.items():
            _kill(pid, signal.SIGKILL)
            lost.append(Exited(identity, None))
        lost += [Exited(identity, None) for identity in self._pending]
        self._pids.clear()
        self._pending.clear()
        self.process.wait()
        os.close(self._events)
        self.process.stdin.close()  # type: ignore[union-attr]
        self._losses += 1
        self._events = -1
        if self._losses < _MAX_TEMPLATE_LOSSES:
            self._start()  # so that later calls get workers again; note fileno() may change
        return lost

    def kill(self, identity: bytes, signum: int) -> None:
        pid = self._pids.get(identity)
        if pid is not None:
            write_message(self._requests, ("kill", pid, signum))
        elif identity in self._pending:  # not forked yet: kill it as soon as it is
            self._kill_on_spawn[identity] = signum

    def close(self) -> None:
        """Close the request pipe (the template then stops its children and exits) and wait for it, bounded."""
        if self._closed:
            return
        self._closed = True
        if self._events < 0:
            return
        try:
            self.process.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass
        if not self._pids and not self._pending:
            # No worker left to stop gracefully, and the template holds no state: skip its ~20 ms of
            # interpreter teardown.
            self.process.terminate()
        try:
            self.process.wait(timeout=_CLOSE_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for pid in self._pids.values():  # only if the template could not stop them
            _kill(pid, signal.SIGKILL)
        os.close(self._events)
        if self._measurement is not None:
            self._measurement.fold()  # all workers have exited and saved


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
