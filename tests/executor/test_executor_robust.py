"""Robustness: use after fork, stopping running calls (``executor.api.terminate``)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings

import pytest

import xcalls
import xprocs
from executor.api import CallStoppedError, terminate
from executor.errors import RemoteError

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


# ---- warnings as errors ---------------------------------------------------------------------------------------------
def test_warnings_as_errors_fail_only_the_affected_call_and_the_executor_stays_usable(make_executor, tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # a directory cannot be created below a regular file, not even by root
    ex = make_executor(max_workers=1, cache_directory=str(blocker / "cache"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        future = ex.submit(xcalls.identity, 1)
        with pytest.raises(RuntimeWarning, match=r"could not write the cache file of identity\(\)") as info:
            future.result(timeout=20)
        assert isinstance(info.value.__cause__, OSError)
        logged = ex.submit(xcalls.raise_custom, "boom", resource_dict={"error_log_file": str(blocker / "log.txt")})
        with pytest.raises(xcalls.CustomError, match="boom") as raised:
            logged.result(timeout=20)
        assert any("could not append to error_log_file" in note for note in raised.value.__notes__)
        fine = ex.submit(xcalls.add, 1, 2, resource_dict={"cache_directory": str(tmp_path / "cache")})
        assert fine.result(timeout=20) == 3, "the scheduler thread survived"


def test_without_error_filter_an_unwritable_cache_costs_a_warning_not_the_value(make_executor, tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    ex = make_executor(max_workers=1, cache_directory=str(blocker / "cache"))
    with pytest.warns(RuntimeWarning, match=r"could not write the cache file of identity\(\)"):
        assert ex.submit(xcalls.identity, 7).result(timeout=20) == 7


def test_python_dash_w_error_keeps_the_executor_usable(tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    source = f"""
        from executor import SingleNodeExecutor
        with SingleNodeExecutor(max_workers=1, cache_directory={str(blocker / "cache")!r}) as ex:
            print("first:", repr(ex.submit(abs, -1).exception(timeout=20)))
            print("second:", ex.submit(abs, -2, resource_dict={{"cache_directory": {str(tmp_path / "ok")!r}}}).result(timeout=20))
        """
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(source)], capture_output=True, text=True, timeout=40
    )
    assert result.returncode == 0, result.stderr
    assert 'first: RuntimeWarning("could not write the cache file of abs(): [Errno 20] Not a directory' in result.stdout
    assert "second: 2" in result.stdout


# ---- exceptions that cannot be re-created -----------------------------------------------------------------------
def test_exception_that_cannot_be_recreated_names_its_type_message_and_traceback(make_executor) -> None:
    ex = make_executor(max_workers=1)
    error = ex.submit(xcalls.raise_two_argument_error, 1, 2).exception(timeout=20)
    assert isinstance(error, RemoteError), repr(error)
    assert error.type_name == "xcalls.TwoArgumentError"
    assert error.message == "needs 1 and 2"
    assert str(error).startswith("xcalls.TwoArgumentError: needs 1 and 2")
    assert "raise TwoArgumentError(a, b)  # the line the traceback must show" in str(error.__cause__)
    assert ex.submit(xcalls.identity, 1).result(timeout=20) == 1, "the worker and the executor stay usable"


def test_exception_that_round_trips_keeps_its_own_type(make_executor) -> None:
    ex = make_executor(max_workers=1)
    error = ex.submit(xcalls.raise_custom, "as before").exception(timeout=20)
    assert type(error) is xcalls.CustomError and str(error) == "as before"


# ---- processes a call started end with its worker --------------------------------------------------------------
STARTERS = {"popen_child": xcalls.start_child, "daemon": xcalls.start_daemon}


def _started(directory) -> list[int]:
    return [int(p.name.split("-")[1]) for p in directory.iterdir()]


@pytest.mark.parametrize("what", list(STARTERS))
def test_processes_a_call_started_end_with_its_worker(make_executor, tmp_path, what: str) -> None:
    ex = make_executor(max_workers=1)
    assert ex.submit(STARTERS[what], str(tmp_path)).result(timeout=20) in _started(tmp_path)
    ex.shutdown(wait=True)
    [pid] = _started(tmp_path)
    assert xprocs.eventually(lambda: not xprocs.alive(pid), timeout=5), f"{what} {pid} outlived shutdown()"


@pytest.mark.parametrize("what", list(STARTERS))
def test_processes_a_call_started_end_with_a_worker_killed_by_its_time_limit(make_executor, tmp_path, what: str) -> None:
    from executor.errors import RunTimeLimitError

    ex = make_executor(max_workers=1)
    future = ex.submit(xcalls.start_then_sleep, STARTERS[what].__name__, str(tmp_path), resource_dict={"run_time_max": 2})
    with pytest.raises(RunTimeLimitError):
        future.result(timeout=30)
    [pid] = _started(tmp_path)
    assert xprocs.eventually(lambda: not xprocs.alive(pid), timeout=5), f"{what} {pid} outlived its killed worker"
    assert ex.submit(xcalls.identity, 1).result(timeout=20) == 1


@pytest.mark.mpi(ranks=2)
@pytest.mark.parametrize("what", list(STARTERS))
def test_processes_started_on_every_mpi_rank_end_with_the_worker(tmp_path, what: str) -> None:
    from executor import SingleNodeExecutor

    with SingleNodeExecutor(max_cores=2) as ex:
        assert len(ex.submit(STARTERS[what], str(tmp_path), resource_dict={"cores": 2}).result(timeout=60)) == 2
    pids = _started(tmp_path)
    assert len(pids) == 2
    assert xprocs.eventually(lambda: not any(xprocs.alive(p) for p in pids), timeout=5), (
        f"{what} left: {[p for p in pids if xprocs.alive(p)]}"
    )
