"""Where calls run: a fresh process per call by default, persistent workers with block allocation."""

from __future__ import annotations

import sys
import time

import pytest

import xcalls
import xprocs
from executor import SingleNodeExecutor

pytestmark = pytest.mark.timeout(30)


def test_default_mode_runs_each_call_in_a_fresh_process() -> None:
    with SingleNodeExecutor(max_workers=2) as ex:
        results = [ex.submit(xcalls.bump).result(timeout=10) for _ in range(4)]
        results += [f.result(timeout=10) for f in [ex.submit(xcalls.bump) for _ in range(4)]]
    counters = [count for count, _ in results]
    pids = [pid for _, pid in results]
    assert counters == [1] * len(results), "module-level state must not be shared between calls"
    assert len(set(pids)) == len(pids), "every call needs its own process"


def test_block_allocation_reuses_workers() -> None:
    with SingleNodeExecutor(max_workers=1, block_allocation=True) as ex:
        results = [ex.submit(xcalls.bump).result(timeout=10) for _ in range(4)]
    assert [count for count, _ in results] == [1, 2, 3, 4], "a block worker keeps its module state"
    assert len({pid for _, pid in results}) == 1


def test_block_allocation_injects_worker_id() -> None:
    with SingleNodeExecutor(max_workers=2, block_allocation=True) as ex:
        results = [ex.submit(xcalls.worker_id_and_pid, 0.05) for _ in range(12)]
        pairs = [f.result(timeout=10) for f in results]
        assert ex.submit(xcalls.no_special_parameters, 4).result(timeout=10) == 8  # not injected when not named
    ids = {worker_id for worker_id, _ in pairs}
    assert ids == {0, 1}, f"worker ids must be 0..n-1, got {ids}"
    by_pid: dict[int, set[int]] = {}
    for worker_id, pid in pairs:
        by_pid.setdefault(pid, set()).add(worker_id)
    assert all(len(ids) == 1 for ids in by_pid.values()), "one worker process keeps one id"
    assert len(by_pid) == len(ids)


def test_init_function_results_are_injected_by_name() -> None:
    with SingleNodeExecutor(max_workers=2, block_allocation=True, init_function=xcalls.init_state) as ex:
        futures = [ex.submit(xcalls.uses_init, i) for i in range(6)]
        results = [f.result(timeout=10) for f in futures]
        assert ex.submit(xcalls.no_special_parameters, 3).result(timeout=10) == 6
        explicit = ex.submit(xcalls.uses_init, 1, offset=5).result(timeout=10)
    for i, (value, init_pid, pid) in enumerate(results):
        assert value == i + 100
        assert init_pid == pid, "init_function runs in the worker that then serves the calls"
    assert explicit[0] == 6, "an argument the caller passes wins over the init_function's entry"


def test_max_workers_setter_grows_and_shrinks_the_pool() -> None:
    with SingleNodeExecutor(max_workers=1, block_allocation=True) as ex:
        assert ex.submit(xcalls.worker_id).result(timeout=10) == 0
        server = xprocs.fork_server_pid(ex)
        ex.max_workers = 3
        assert ex.max_workers == 3 and ex.info["max_workers"] == 3
        assert xprocs.eventually(lambda: len(xprocs.children(server)) == 3), "growing starts new workers"
        pairs = [f.result(timeout=10) for f in [ex.submit(xcalls.worker_id_and_pid, 0.1) for _ in range(12)]]
        assert {worker_id for worker_id, _ in pairs} == {0, 1, 2}
        ex.max_workers = 1
        assert ex.max_workers == 1 and ex.info["max_workers"] == 1
        assert xprocs.eventually(lambda: len(xprocs.children(server)) == 1), "shrinking stops workers"
        pairs = [f.result(timeout=10) for f in [ex.submit(xcalls.worker_id_and_pid) for _ in range(4)]]
        assert {worker_id for worker_id, _ in pairs} == {0}
        assert len({pid for _, pid in pairs}) == 1


def test_shrinking_does_not_lose_calls_in_flight() -> None:
    with SingleNodeExecutor(max_workers=3, block_allocation=True) as ex:
        futures = [ex.submit(xcalls.sleep_return, i, 0.1) for i in range(9)]
        time.sleep(0.05)
        ex.max_workers = 1
        futures += [ex.submit(xcalls.sleep_return, i, 0.0) for i in range(9, 12)]
        assert [f.result(timeout=15) for f in futures] == list(range(12))


def test_threads_per_core_sets_thread_variables(make_executor) -> None:
    ex = make_executor(max_cores=2, resource_dict={"threads_per_core": 2})
    assert ex.submit(xcalls.getenv, "OMP_NUM_THREADS").result(timeout=10) == "2"


def test_cwd_runs_the_call_in_that_directory(make_executor, tmp_path) -> None:
    ex = make_executor(max_workers=1, resource_dict={"cwd": str(tmp_path)})
    assert ex.submit(xcalls.cwd).result(timeout=10) == str(tmp_path)


def test_init_function_failure_fails_the_calls_with_its_exception() -> None:
    with SingleNodeExecutor(max_workers=1, block_allocation=True, init_function=xcalls.init_raises) as ex:
        futures = [ex.submit(xcalls.identity, i) for i in range(2)]
        for future in futures:
            with pytest.raises(xcalls.CustomError, match="init failed"):
                future.result(timeout=10)


def test_init_function_must_return_a_dict() -> None:
    with SingleNodeExecutor(max_workers=1, block_allocation=True, init_function=xcalls.init_not_a_dict) as ex:
        with pytest.raises(TypeError, match="dict"):
            ex.submit(xcalls.identity, 1).result(timeout=10)


# ---- a fresh process sees the caller's state at the moment of the call ------------------------------------------
def test_default_mode_calls_see_the_callers_current_environment(monkeypatch) -> None:
    with SingleNodeExecutor(max_workers=2) as ex:
        assert ex.submit(xcalls.getenv, "XLIB_TEST_VALUE").result(timeout=10) is None
        time.sleep(0.2)  # let the executor prepare idle workers with the old environment
        monkeypatch.setenv("XLIB_TEST_VALUE", "set after the executor was built")
        values = [ex.submit(xcalls.getenv, "XLIB_TEST_VALUE").result(timeout=10) for _ in range(3)]
    assert values == ["set after the executor was built"] * 3


def test_default_mode_calls_see_the_callers_current_directory(monkeypatch, tmp_path) -> None:
    with SingleNodeExecutor(max_workers=2) as ex:
        first = ex.submit(xcalls.cwd).result(timeout=10)
        time.sleep(0.2)
        monkeypatch.chdir(tmp_path)
        values = [ex.submit(xcalls.cwd).result(timeout=10) for _ in range(3)]
    assert first != str(tmp_path)
    assert values == [str(tmp_path)] * 3


def test_default_mode_calls_see_the_callers_current_sys_path(monkeypatch, tmp_path) -> None:
    (tmp_path / "xlib_late_module.py").write_text("def answer():\n    return 42\n")
    with SingleNodeExecutor(max_workers=2) as ex:
        assert ex.submit(xcalls.identity, 1).result(timeout=10) == 1
        time.sleep(0.2)
        monkeypatch.syspath_prepend(str(tmp_path))
        import xlib_late_module

        try:
            assert ex.submit(xlib_late_module.answer).result(timeout=10) == 42
        finally:
            sys.modules.pop("xlib_late_module", None)
