"""``FakeSpawner``: workers as threads of this process, for testing scheduler policies without processes.

Each fake worker runs the real worker loop (``executor.worker.loop.serve``) over the real channel, so what a
policy sees (HELLO, RESULT, INITERR, exits) is what it sees with processes; only the process is missing:

- ``env`` and ``cwd`` are applied around each call, under one lock (so fake workers with an env or a cwd run
  calls one at a time; ``FakeLaunch`` adds no environment, so its workers' calls run concurrently);
- ``kill`` shuts the worker's socket down: the worker ends once its current call returns, reported as killed
  by that signal; a call that raises ``SystemExit(n)`` ends its worker with code ``n``;
- ``queued=True``: workers wait "in a queue" (Spawned, no Started) until ``release()``; ``start_timeout`` is
  then what bounds that wait, as for a batch launcher;
- ``spawned`` lists every ``WorkerSpec`` received, ``alive`` counts the workers still running.

``FakeLaunch`` is a ``LaunchPolicy`` whose workers are all fake (any resources accepted).
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections import deque
from collections.abc import Mapping
from typing import Any

from executor.channel.zmtp import Dealer
from executor.spawners.base import Event, Exited, Spawned, Started, WorkerSpec
from executor.worker.calls import run
from executor.worker.loop import WorkerConfig, serve

_CALL_LOCK = threading.Lock()  # env and cwd are process-wide: fake workers run calls one at a time
_JOIN_TIMEOUT = 5.0


class FakeSpawner:
    def __init__(self, address: str, key: bytes, *, queued: bool = False, start_timeout: float | None = None) -> None:
        self.start_timeout = start_timeout
        self.queued = queued
        self.spawned: list[WorkerSpec] = []
        self.address = address  # the channel address it was given
        self._address = address
        self._key = key
        self._events: deque[Event] = deque()
        self._r, self._w = os.pipe()
        self._lock = threading.Lock()
        self._threads: dict[bytes, threading.Thread] = {}
        self._waiting: dict[bytes, WorkerSpec] = {}
        self._sockets: dict[bytes, Dealer] = {}
        self._killed: dict[bytes, int] = {}
        self._count = 0

    # ---- Spawner ----------------------------------------------------------------------------------------------
    def fileno(self) -> int:
        return self._r

    def in_sync(self) -> bool:
        return True

    def spawn(self, spec: WorkerSpec) -> None:
        self.spawned.append(spec)
        self._count += 1
        self._emit(Spawned(spec.identity, f"thread {self._count}"))
        if self.queued:
            self._waiting[spec.identity] = spec
        else:
            self._start(spec)

    def release(self) -> None:
        """Let every queued worker start (any thread)."""
        with self._lock:
            waiting = list(self._waiting.values())
            self._waiting.clear()
        for spec in waiting:
            self._start(spec)

    def read_events(self) -> list[Event]:
        os.read(self._r, 4096)
        out = []
        while self._events:
            out.append(self._events.popleft())
        return out

    def kill(self, identity: bytes, signum: int) -> None:
        with self._lock:
            self._killed.setdefault(identity, signum)
            queued = self._waiting.pop(identity, None)
            sock = self._sockets.get(identity)
        if queued is not None:
            self._emit(Exited(identity, -signum, message="killed while queued"))
        elif sock is not None:
            try:
                sock._sock.shutdown(socket.SHUT_RDWR)  # recv() in the worker thread returns: it ends
            except OSError:
                pass

    def close(self) -> None:
        for identity in list(self._threads):
            self.kill(identity, signal.SIGTERM)
        for thread in list(self._threads.values()):
            thread.join(_JOIN_TIMEOUT)
        with self._lock:
            os.close(self._w)
            self._w = -1
        os.close(self._r)

    @property
    def alive(self) -> int:
        return sum(thread.is_alive() for thread in self._threads.values())

    # ---- the fake workers ---------------------------------------------------------------------------------------
    def _emit(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)
            if self._w >= 0:
                os.write(self._w, b"x")

    def _start(self, spec: WorkerSpec) -> None:
        thread = threading.Thread(target=self._worker, args=(spec,), name="fake-worker", daemon=True)
        self._threads[spec.identity] = thread
        self._emit(Started(spec.identity))
        thread.start()

    def _connect(self, identity: bytes):  # type: ignore[no-untyped-def]
        def connect(address: str, ident: bytes, timeout: float) -> Dealer:
            sock = Dealer(address, ident, timeout=timeout)
            with self._lock:
                self._sockets[identity] = sock
                killed = identity in self._killed
            if killed:
                sock._sock.shutdown(socket.SHUT_RDWR)
            return sock

        return connect

    def _worker(self, spec: WorkerSpec) -> None:
        code = 0

        def runner(kind: str, payload: bytes, extra: dict[str, Any]) -> tuple[bool, bytes]:
            if not spec.env and spec.cwd is None:  # nothing to apply: calls of several workers run at once
                return run(payload, extra)
            with _CALL_LOCK:
                saved_env, saved_cwd = dict(os.environ), os.getcwd()
                os.environ.update(spec.env)
                try:
                    if spec.cwd is not None:
                        os.chdir(spec.cwd)
                    return run(payload, extra)
                finally:
                    os.chdir(saved_cwd)
                    os.environ.clear()
                    os.environ.update(saved_env)

        try:
            if spec.cwd is not None:
                os.makedirs(spec.cwd, exist_ok=True)  # fails (before connecting) like a real worker's chdir
            config = WorkerConfig(self._address, spec.identity, self._key, spec.worker_id, spec.one_shot)
            serve(config, runner=runner, connect=self._connect(spec.identity))
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        except BaseException:
            code = 1
        with self._lock:
            signum = self._killed.get(spec.identity)
            self._sockets.pop(spec.identity, None)
        self._emit(Exited(spec.identity, -signum if signum is not None else code))


class FakeLaunch:
    """A launch policy whose workers are all fake (or all started by ``factory(address, key)``); the spawner is
    created on first use and kept in ``spawner_``."""

    remote_workers = False
    hostname_localhost = True
    assigns_gpus = False
    frees_on_exit = False

    def __init__(self, factory: Any = None, **spawner_options: Any) -> None:
        self._factory = factory or FakeSpawner
        self._options = spawner_options
        self.spawner_: Any = None

    def unsupported(self, resources: Mapping[str, Any]) -> str | None:
        return None

    def environment(self, resources: Mapping[str, Any], devices: list[str]) -> dict[str, str]:
        return {}  # thread variables would be process-wide here

    def devices(self) -> list[str]:
        return []

    def spawner(self, resources: Mapping[str, Any], address: str, key: bytes) -> Any:
        if self.spawner_ is None:
            self.spawner_ = self._factory(address, key, **self._options)
        return self.spawner_
