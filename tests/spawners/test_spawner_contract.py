"""The spawner contract: one behaviour suite, run against every spawner (fork server, mpiexec, srun on the real
SLURM, flux on the mock flux, the fake).

What a scheduler relies on: a spawned worker is reported (``Spawned`` with a launcher-neutral ``ref``), then
``Started``, then it connects (HELLO) with the identity it was given; a worker that ends is reported once with
its exit code (negative: the signal that killed it); ``kill`` reaches it; the environment and cwd of its spec
reach the calls it runs; a worker that cannot start is reported (``spawn`` raises, or it exits before it
connects), never silently lost; ``close`` leaves no worker behind.
"""

from __future__ import annotations

import os
import select
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import cloudpickle
import pytest
import spawncalls
from fakespawner import FakeSpawner

from executor.channel import messages as m
from executor.channel.framing import new_key
from executor.channel.parent import ParentChannel
from executor.host import mpiexec_path
from executor.spawners.base import Exited, Spawned, Started, WorkerSpec
from executor.spawners.local import ForkServerSpawner
from executor.spawners.mpiexec import MpiExecSpawner
from executor.spawners.srun_command import SINFO_FORMAT

WAIT = 60.0  # bound on every wait for an event or a message (a slow, shared CI machine)


def _mpiexec(address: str, key: bytes) -> Any:
    if mpiexec_path() is None:
        pytest.skip("no mpiexec beside the Python interpreter or on PATH (pip install 'pytest-executorlib[mpi]')")
    return MpiExecSpawner(address, key)


def _srun(address: str, key: bytes) -> Any:
    """The srun spawner on the real SLURM that answers here (``SLURM_CONF``, else ci/start-slurm.sh's)."""
    import subprocess

    from executor.spawners.srun import SrunSpawner

    try:
        answer = subprocess.run(["sinfo", "--noheader", f"--format={SINFO_FORMAT}"], capture_output=True, text=True, timeout=10)
        why = None if answer.returncode == 0 else answer.stderr.strip()
    except (OSError, subprocess.TimeoutExpired) as error:
        why = str(error)
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: no real SLURM answers sinfo ({why})")
        pytest.skip(f"no real SLURM answers sinfo here ({why}); start one with: bash ci/start-slurm.sh")
    return SrunSpawner(address, key)


class _FluxSpawner:
    """A FluxSpawner in a mock flux instance of its own, stopped with the spawner."""

    def __new__(cls, address: str, key: bytes) -> Any:
        import shutil
        import tempfile

        from pytest_executorlib.mocks.flux.instance import MockFlux

        from executor.spawners.flux import FluxSpawner

        instance = MockFlux(tempfile.mkdtemp(prefix="xlib-contract-flux-"), cores_per_node=2).__enter__()
        instance.activate()
        try:
            spawner = FluxSpawner(address, key)
        except BaseException:
            instance.stop()
            raise
        close = spawner.close

        def close_both() -> None:
            try:
                close()
            finally:
                instance.stop()
                shutil.rmtree(instance.root, ignore_errors=True)

        spawner.close = close_both  # type: ignore[method-assign]
        return spawner


SPAWNERS: dict[str, Callable[[str, bytes], Any]] = {
    "forkserver": ForkServerSpawner,
    "mpiexec": _mpiexec,
    "srun": _srun,
    "flux": _FluxSpawner,  # on the mock flux
    "fake": FakeSpawner,
}
IN_PROCESS = {"fake"}  # workers without a process of their own


class Harness:
    """A channel, a spawner, and bounded waits on both."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.key = new_key()
        self.channel = ParentChannel(self.key)
        self.spawner = SPAWNERS[kind](self.channel.address, self.key)
        self.events: list[Any] = []
        self.messages: list[tuple[bytes, Any]] = []
        self._ids = 0
        self.closed = False

    def spec(self, one_shot: bool = False, env: dict[str, str] | None = None, cwd: str | None = None) -> WorkerSpec:
        self._ids += 1
        identity = b"c%d-%s" % (self._ids, os.urandom(4).hex().encode())
        return WorkerSpec.make(identity, 0, one_shot, env or {}, cwd, {"cores": 1, "threads_per_core": 1})

    def event(self, identity: bytes, kind: type) -> Any:
        deadline = time.monotonic() + WAIT
        while True:
            for event in self.events:
                if event.identity == identity and isinstance(event, kind):
                    return event
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {kind.__name__} event within {WAIT} s; events so far: {self.events}"
            if select.select([self.spawner.fileno()], [], [], remaining)[0]:
                self.events += self.spawner.read_events()

    def message(self, identity: bytes, kind: bytes) -> tuple[Any, ...]:
        deadline = time.monotonic() + WAIT
        while True:
            for sender, message in self.messages:
                if sender == identity and message[0] == kind:
                    self.messages.remove((sender, message))
                    return message
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {kind!r} message within {WAIT} s; events: {self.events}"
            if self.channel.socket.poll(int(min(remaining, 0.5) * 1000)):
                self.messages += self.channel.receive()
            # also drain spawner events, so a worker that died is visible in the assertion message
            if select.select([self.spawner.fileno()], [], [], 0)[0]:
                self.events += self.spawner.read_events()

    def call(self, identity: bytes, fn: Callable[..., Any], *args: Any) -> tuple[bool, Any]:
        self.channel.send(identity, (m.CALLS, [(1, cloudpickle.dumps((fn, args, {})))]))
        result = self.message(identity, m.RESULT)
        return result[2], cloudpickle.loads(result[3])

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.spawner.close()
            self.channel.close()


@pytest.fixture(params=list(SPAWNERS))
def harness(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    if request.param == "srun":  # the SLURM_CONF of ci/start-slurm.sh unless one is set; srun inherits it
        monkeypatch.setenv("SLURM_CONF", os.environ.get("SLURM_CONF") or "/tmp/xlib-slurm/slurm.conf")
    h = Harness(request.param)
    yield h
    h.close()


def test_start_is_reported_then_the_worker_connects(harness: Harness) -> None:
    spec = harness.spec()
    harness.spawner.spawn(spec)
    spawned = harness.event(spec.identity, Spawned)
    assert isinstance(spawned.ref, str) and spawned.ref
    harness.event(spec.identity, Started)
    hello = harness.message(spec.identity, m.HELLO)
    assert isinstance(hello[1], int)
    assert harness.spawner.start_timeout is None or harness.spawner.start_timeout > 0


def test_a_one_shot_worker_exits_with_code_0_after_its_call(harness: Harness) -> None:
    spec = harness.spec(one_shot=True)
    harness.spawner.spawn(spec)
    harness.message(spec.identity, m.HELLO)
    assert harness.call(spec.identity, abs, -3) == (True, 3)
    assert harness.event(spec.identity, Exited).returncode == 0


def test_the_exit_code_of_a_worker_is_reported(harness: Harness) -> None:
    spec = harness.spec()
    harness.spawner.spawn(spec)
    harness.message(spec.identity, m.HELLO)
    harness.channel.send(spec.identity, (m.CALLS, [(1, cloudpickle.dumps((spawncalls.exit_with, (3,), {})))]))
    assert harness.event(spec.identity, Exited).returncode == 3


def test_kill_reaches_the_worker_and_is_reported_as_that_signal(harness: Harness) -> None:
    spec = harness.spec()
    harness.spawner.spawn(spec)
    harness.message(spec.identity, m.HELLO)
    harness.spawner.kill(spec.identity, signal.SIGKILL)
    assert harness.event(spec.identity, Exited).returncode == -signal.SIGKILL


def test_environment_and_cwd_reach_the_worker(harness: Harness, tmp_path) -> None:
    cwd = tmp_path / "made-for-the-worker"
    spec = harness.spec(env={"XLIB_CONTRACT": "reached"}, cwd=str(cwd))
    harness.spawner.spawn(spec)
    harness.message(spec.identity, m.HELLO)
    assert harness.call(spec.identity, spawncalls.where, "XLIB_CONTRACT") == (True, ("reached", str(cwd)))


def test_a_worker_that_cannot_start_is_reported_before_it_connects(harness: Harness, tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    spec = harness.spec(cwd=str(blocker / "cwd"))  # a directory under a regular file cannot exist
    try:
        harness.spawner.spawn(spec)
    except OSError as error:  # reported at once, naming the path
        assert str(blocker) in str(error)
        return
    exited = harness.event(spec.identity, Exited)
    assert exited.returncode != 0
    assert not any(sender == spec.identity for sender, _ in harness.messages), "it connected after all"


def test_close_leaves_no_worker_behind(harness: Harness) -> None:
    spec = harness.spec()
    harness.spawner.spawn(spec)
    harness.message(spec.identity, m.HELLO)
    ok, pid = harness.call(spec.identity, spawncalls.pid)
    assert ok
    harness.close()
    if harness.kind in IN_PROCESS:
        assert harness.spawner.alive == 0
        return
    deadline = time.monotonic() + WAIT  # the worker is killed by close(); its parent reaps it just after
    while _exists(pid):
        assert time.monotonic() < deadline, f"worker process {pid} outlived close()"
        time.sleep(0.05)


def _exists(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[-1][:1] != "Z"  # a zombie has ended; only its parent's wait is left
    except FileNotFoundError:
        return False
