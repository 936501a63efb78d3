"""``LaunchedSpawner``: what a launcher subclass (mpiexec now, srun and flux next) gets from the base class."""

from __future__ import annotations

import select
import sys
import time
from collections.abc import Iterator
from typing import Any

import cloudpickle
import pytest
import spawncalls

from executor.channel import messages as m
from executor.channel.framing import new_key
from executor.channel.parent import ParentChannel
from executor.host import mpiexec_path
from executor.spawners.base import Exited, Started, WorkerSpec
from executor.spawners.launched import LaunchedSpawner, worker_command
from executor.spawners.mpiexec import MpiExecSpawner

WAIT = 60.0


class FailingLauncher(LaunchedSpawner):
    """Stands in for an srun that refuses the request, as srun does: a message on stderr, exit code 1."""

    name = "fake-srun"
    capture_stderr = True

    def command(self, spec: WorkerSpec) -> tuple[list[str], dict[str, str]]:
        script = "import sys; sys.stderr.write('srun: error: Invalid partition name specified\\n'); sys.exit(1)"
        return [sys.executable, "-c", script], {}


class QueueingLauncher(LaunchedSpawner):
    """Says "queued", then "allocated" on stderr before running the worker: Started only comes with the latter."""

    name = "fake-queue"
    capture_stderr = True
    starts_at_launch = False

    def command(self, spec: WorkerSpec) -> tuple[list[str], dict[str, str]]:
        script = (
            "import os, sys; sys.stderr.write('srun: job 7 queued and waiting for resources\\n'); sys.stderr.flush(); "
            "sys.stderr.write('srun: job 7 has been allocated resources\\n'); sys.stderr.flush(); "
            "os.execv(sys.argv[1], sys.argv[1:])"
        )
        return [sys.executable, "-c", script, *worker_command(spec.ranks)], {}

    def on_stderr_line(self, identity: bytes, line: str) -> None:
        if "has been allocated resources" in line:
            self.report_started(identity)


@pytest.fixture
def channel() -> Iterator[tuple[ParentChannel, bytes]]:
    key = new_key()
    chan = ParentChannel(key)
    yield chan, key
    chan.close()


def _spec(cwd: str | None = None) -> WorkerSpec:
    return WorkerSpec.make(b"launched-1", 0, False, {}, cwd, {"cores": 1})


def _events(spawner: Any, until: type) -> list[Any]:
    seen: list[Any] = []
    deadline = time.monotonic() + WAIT
    while not any(isinstance(e, until) for e in seen):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {until.__name__} within {WAIT} s: {seen}"
        if select.select([spawner.fileno()], [], [], remaining)[0]:
            seen += spawner.read_events()
    return seen


def test_a_launcher_that_refuses_is_reported_with_its_own_message(channel, capfd) -> None:
    chan, key = channel
    spawner = FailingLauncher(chan.address, key)
    try:
        spawner.spawn(_spec())
        exited = [e for e in _events(spawner, Exited) if isinstance(e, Exited)][0]
    finally:
        spawner.close()
    assert exited.returncode == 1
    assert exited.message == "srun: error: Invalid partition name specified"
    assert "Invalid partition name" in capfd.readouterr().err, "the launcher's stderr is still shown to the user"


def test_started_comes_when_the_launcher_says_the_resources_are_allocated(channel) -> None:
    chan, key = channel
    spawner = QueueingLauncher(chan.address, key, start_timeout=WAIT)
    try:
        spawner.spawn(_spec())
        events = _events(spawner, Started)
        assert spawner.start_timeout == WAIT
        deadline = time.monotonic() + WAIT
        while not (hello := [msg for ident, msg in chan.receive() if msg[0] == m.HELLO]):
            assert time.monotonic() < deadline
            chan.socket.poll(500)
        assert hello
    finally:
        spawner.close()
    assert [type(e).__name__ for e in events][-1] == "Started"


def test_a_call_whose_launcher_refuses_fails_quoting_the_launcher(capfd) -> None:
    from fakespawner import FakeLaunch

    from executor.errors import ExecutorlibSocketError, WorkerStartError
    from executor.frontends.base import BaseExecutor
    from executor.schedulers.per_call import PerCallScheduler
    from executor.tasks.resources import Limits, ResourcePolicy

    launch = FakeLaunch(FailingLauncher)
    policy = ResourcePolicy(None, Limits("FakeExecutor", 1, False, launch))
    with BaseExecutor(PerCallScheduler(launch, 1, policy.defaults, spares=0), policy, disable_dependencies=False, info={}) as ex:
        with pytest.raises(ExecutorlibSocketError) as caught:
            ex.submit(abs, -1).result(timeout=WAIT)
    assert not isinstance(caught.value, WorkerStartError) or "keep failing" in str(caught.value)
    assert "exited with code 1; its launcher said: srun: error: Invalid partition name specified" in str(caught.value)


@pytest.mark.skipif(mpiexec_path() is None, reason="no mpiexec (pip install 'pytest-executorlib[mpi]')")
def test_a_one_rank_launched_worker_does_not_need_mpi4py(channel, tmp_path, monkeypatch) -> None:
    broken = tmp_path / "mpi4py"
    broken.mkdir()
    (broken / "__init__.py").write_text("raise ImportError('mpi4py must not be imported by a one-rank worker')\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # the worker gets this sys.path
    chan, key = channel
    spawner = MpiExecSpawner(chan.address, key)
    try:
        spawner.spawn(_spec())
        deadline = time.monotonic() + WAIT
        while not [msg for ident, msg in chan.receive() if msg[0] == m.HELLO]:
            assert time.monotonic() < deadline, f"the worker never connected: {spawner.read_events()}"
            chan.socket.poll(500)
        chan.send(b"launched-1", (m.CALLS, [(1, cloudpickle.dumps((spawncalls.where, ("X",), {})))]))
        while not (results := [msg for ident, msg in chan.receive() if msg[0] == m.RESULT]):
            assert time.monotonic() < deadline
            chan.socket.poll(500)
        assert results[0][2] is True
    finally:
        spawner.close()
