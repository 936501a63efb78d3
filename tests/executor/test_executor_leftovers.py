"""After shutdown nothing is left: no child processes, no fork server, no workers, no threads."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import pytest

import xcalls
import xprocs
from executor import SingleNodeExecutor
from executor.api import ExecutorlibSocketError

pytestmark = pytest.mark.timeout(30)


@contextmanager
def nothing_left_behind(settle: float = 0.0):
    """Check that the block leaves no child processes and no threads (Python or OS-level) behind."""
    children = xprocs.children()
    threads = set(threading.enumerate())
    os_threads = xprocs.os_thread_count()
    seen: dict[str, set[int]] = {"pids": set()}
    yield seen
    if settle:
        xprocs.eventually(lambda: xprocs.children() <= children and xprocs.os_thread_count() <= os_threads, settle)
    extra_children = xprocs.children() - children
    assert not extra_children, f"child processes left: {extra_children}"
    alive = {pid for pid in seen["pids"] if xprocs.alive(pid)}
    assert not alive, f"worker or fork server processes left: {alive}"
    extra_threads = set(threading.enumerate()) - threads
    assert not extra_threads, f"threads left: {extra_threads}"
    # An exiting thread leaves threading.enumerate() a moment before the OS reaps it: allow that moment.
    assert xprocs.eventually(lambda: xprocs.os_thread_count() <= os_threads, timeout=1.0), (
        "OS-level threads (e.g. ZeroMQ I/O threads) left"
    )


def test_shutdown_leaves_nothing(mode) -> None:
    with nothing_left_behind() as seen:
        ex = SingleNodeExecutor(max_workers=2, block_allocation=mode == "block")
        seen["pids"].add(xprocs.fork_server_pid(ex))
        seen["pids"] |= {f.result(timeout=10) for f in [ex.submit(xcalls.pid) for _ in range(4)]}
        seen["pids"] |= set(xprocs.children(xprocs.fork_server_pid(ex)))
        ex.shutdown(wait=True)


def test_context_manager_with_failed_calls_leaves_nothing(mode, tmp_path) -> None:
    with nothing_left_behind() as seen:
        with SingleNodeExecutor(max_workers=2, block_allocation=mode == "block") as ex:
            seen["pids"].add(xprocs.fork_server_pid(ex))
            dying = ex.submit(xcalls.die_sigkill)
            exiting = ex.submit(xcalls.die_sys_exit)
            failing = ex.submit(xcalls.raise_custom, "fails")
            dependent = ex.submit(xcalls.identity, failing)
            seen["pids"].add(ex.submit(xcalls.pid).result(timeout=10))
            seen["pids"] |= set(xprocs.children(xprocs.fork_server_pid(ex)))
        with pytest.raises(xcalls.CustomError):
            failing.result(timeout=0)
        with pytest.raises(xcalls.CustomError):
            dependent.result(timeout=0)
        assert isinstance(dying.exception(timeout=0), ExecutorlibSocketError)
        assert isinstance(exiting.exception(timeout=0), ExecutorlibSocketError)


def test_context_manager_left_by_an_exception_leaves_nothing(mode) -> None:
    with nothing_left_behind() as seen:
        with pytest.raises(KeyError):
            with SingleNodeExecutor(max_workers=1, block_allocation=mode == "block") as ex:
                seen["pids"].add(xprocs.fork_server_pid(ex))
                future = ex.submit(xcalls.sleep_return, 7, 0.2)
                raise KeyError("the caller's own error")
        assert future.result(timeout=0) == 7, "leaving the block waits for the submitted calls"


def test_shutdown_wait_false_leaves_nothing_once_calls_end(mode) -> None:
    with nothing_left_behind(settle=5.0) as seen:
        ex = SingleNodeExecutor(max_workers=1, block_allocation=mode == "block")
        seen["pids"].add(xprocs.fork_server_pid(ex))
        future = ex.submit(xcalls.sleep_return, 1, 0.2)
        ex.shutdown(wait=False)
        assert future.result(timeout=10) == 1


def test_shutdown_right_after_construction_is_prompt_and_leaves_nothing(mode) -> None:
    with nothing_left_behind() as seen:
        ex = SingleNodeExecutor(max_workers=2, block_allocation=mode == "block")
        seen["pids"].add(xprocs.fork_server_pid(ex))
        start = time.monotonic()
        ex.shutdown(wait=True)
        assert time.monotonic() - start < 2.0, "shutting down an idle executor must not wait for timeouts"


def test_shutdown_while_a_block_worker_restarts_is_prompt(tmp_path) -> None:
    with nothing_left_behind() as seen:
        ex = SingleNodeExecutor(max_workers=1, block_allocation=True)
        seen["pids"].add(xprocs.fork_server_pid(ex))
        assert isinstance(ex.submit(xcalls.die_sigkill).exception(timeout=10), ExecutorlibSocketError)
        start = time.monotonic()
        ex.shutdown(wait=True)  # the replacement worker may still be starting
        assert time.monotonic() - start < 2.0


@pytest.mark.timeout(30)
def test_a_constructor_that_fails_leaves_no_process(monkeypatch) -> None:
    import executor.cache as cache_package

    def no_h5py(directory):
        raise ImportError("h5py is missing: pip install 'pytest-executorlib[cache]'")

    monkeypatch.setattr(cache_package, "ResultCache", no_h5py)
    before = xprocs.children()
    with pytest.raises(ImportError, match=r"\[cache\]"):
        SingleNodeExecutor(cache_directory="somewhere")
    assert xprocs.eventually(lambda: not xprocs.children() - before, 5.0), xprocs.children() - before


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_channel_that_cannot_be_bound_fails_the_calls_and_stops_the_template(mode, monkeypatch) -> None:
    """The channel is bound on the scheduler thread, after construction started the fork server's template:
    if binding fails, calls fail with that error and the template does not outlive the executor."""
    from executor.channel import parent

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("no port left to bind (test)")

    monkeypatch.setattr(parent.ParentChannel, "__init__", refuse)
    with nothing_left_behind():
        ex = SingleNodeExecutor(max_workers=1, block_allocation=mode == "block")
        future = ex.submit(xcalls.identity, 1)
        with pytest.raises(RuntimeError, match="no port left to bind"):
            future.result(timeout=10)
        ex.shutdown(wait=True)
