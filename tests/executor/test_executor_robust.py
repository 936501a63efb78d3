"""Robustness: use after fork, stopping running calls (``executor.api.terminate``)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import xcalls
import xprocs
from executor.api import CallStoppedError, terminate

pytestmark = pytest.mark.timeout(60)

HERE = os.path.dirname(os.path.abspath(__file__))


def _run_script(source: str, timeout: float = 40) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([HERE, os.environ.get("PYTHONPATH", "")])},
    )


@pytest.mark.parametrize("block", [False, True])
def test_submit_in_a_forked_child_raises_and_the_child_exits_normally(block: bool) -> None:
    result = _run_script(
        f"""
        import os, sys
        from executor import SingleNodeExecutor

        ex = SingleNodeExecutor(max_workers=1, block_allocation={block})
        assert ex.submit(abs, -3).result() == 3
        pid = os.fork()
        if pid == 0:
            try:
                ex.submit(abs, -1)
            except RuntimeError as error:
                print("child error:", error, flush=True)
            sys.exit(0)  # a normal exit: the at-exit shutdown runs in the child too
        _, status = os.waitpid(pid, 0)
        print("child exit code", os.waitstatus_to_exitcode(status))
        print("parent still works", ex.submit(abs, -5).result())
        print("parent pid", os.getpid())
        """
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    parent = out.split("parent pid ")[1].split()[0]
    assert f"SingleNodeExecutor was created in the parent process (pid {parent})" in out
    assert "create a new executor in the child process" in out
    assert "child exit code 0" in out
    assert "parent still works 5" in out


def test_terminate_stops_running_and_queued_calls_and_leaves_no_process(make_executor, tmp_path) -> None:
    ex = make_executor(max_workers=1)
    server = xprocs.fork_server_pid(ex)
    running = ex.submit(xcalls.touch_then_sleep, str(tmp_path / "started"), 600)
    queued = ex.submit(xcalls.identity, 1)
    assert xprocs.eventually(lambda: (tmp_path / "started").exists(), timeout=20)
    workers = xprocs.children(server)
    stopped = terminate(ex, "the test failed")
    assert len(stopped) == 1 and stopped[0].startswith("touch_then_sleep() [running in worker process ")
    with pytest.raises(CallStoppedError, match=r"touch_then_sleep\(\) was stopped before it returned: the test failed"):
        running.result(timeout=0)
    assert queued.cancelled() or isinstance(queued.exception(timeout=0), CallStoppedError)
    assert not any(xprocs.alive(pid) for pid in workers | {server})
    with pytest.raises(RuntimeError, match="after shutdown"):
        ex.submit(xcalls.identity, 2)
