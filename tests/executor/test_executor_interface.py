"""The public names and the executor's API surface: submit, map, shutdown, context manager, info."""

from __future__ import annotations

import concurrent.futures
import sys
import time
from concurrent.futures import Future

import pytest

import executor
import executor.api
import xcalls
import xprocs
from executor import SingleNodeExecutor

pytestmark = pytest.mark.timeout(30)


# ---- public names --------------------------------------------------------------------------------------------
def test_single_node_executor_is_a_standard_executor() -> None:
    from executor import SingleNodeExecutor as imported

    assert imported is SingleNodeExecutor
    assert issubclass(SingleNodeExecutor, concurrent.futures.Executor)
    assert issubclass(SingleNodeExecutor, executor.BaseExecutor)


_PUBLIC_NAMES = [
    "SingleNodeExecutor", "SlurmJobExecutor", "SlurmClusterExecutor", "FluxJobExecutor", "FluxClusterExecutor",
    "BaseExecutor", "get_cache_data", "get_future_from_cache", "get_item_from_future", "split_future",
    "terminate_tasks_in_cache", "terminate_task_in_cache", "__version__",
]  # fmt: skip


def test_executor_declares_executorlibs_public_names() -> None:
    assert set(executor.__all__) >= set(_PUBLIC_NAMES)


# The Slurm and Flux front ends belong to other issues; the local executor's names must import.
@pytest.mark.parametrize("name", ["SingleNodeExecutor", "BaseExecutor", "get_item_from_future", "split_future", "__version__"])
def test_local_public_names_import(name: str) -> None:
    assert getattr(executor, name) is not None


def test_api_exports() -> None:
    assert set(executor.api.__all__) >= {"cloudpickle_register", "ExecutorlibSocketError", "FutureSelector"}
    assert issubclass(executor.api.ExecutorlibSocketError, RuntimeError)
    assert issubclass(executor.api.FutureSelector, Future)
    assert callable(executor.api.cloudpickle_register)


def test_constructor_parameters_match_executorlib_order() -> None:
    import inspect

    executorlib = pytest.importorskip("executorlib")
    theirs = list(inspect.signature(executorlib.SingleNodeExecutor).parameters)
    ours = list(inspect.signature(SingleNodeExecutor).parameters)
    assert ours[: len(theirs)] == theirs, "executorlib's parameters, in executorlib's order (extras may follow)"


def _registered_by_value(module_name: str) -> bool:
    import cloudpickle

    return module_name in cloudpickle.cloudpickle._PICKLE_BY_VALUE_MODULES


def _register_my_caller() -> None:
    executor.api.cloudpickle_register()  # default ind=2: the caller of this helper


def test_cloudpickle_register_default_registers_the_callers_module() -> None:
    import cloudpickle

    try:
        _register_my_caller()
        assert _registered_by_value(__name__)
    finally:
        if _registered_by_value(__name__):
            cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_cloudpickle_register_lets_workers_run_functions_they_cannot_import(make_executor, tmp_path, monkeypatch) -> None:
    import cloudpickle

    source = tmp_path / "xlib_by_value_module.py"
    source.write_text(
        "from executor.api import cloudpickle_register\n"
        "cloudpickle_register(ind=1)\n"
        "def answer(x):\n"
        "    return x + 41\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import xlib_by_value_module as module

    monkeypatch.undo()  # workers can no longer import the module: only pickling by value can work
    source.unlink()
    try:
        assert _registered_by_value("xlib_by_value_module")
        ex = make_executor(max_workers=1)
        assert ex.submit(module.answer, 1).result(timeout=10) == 42
    finally:
        if _registered_by_value("xlib_by_value_module"):
            cloudpickle.unregister_pickle_by_value(module)
        sys.modules.pop("xlib_by_value_module", None)


# ---- submit / map ------------------------------------------------------------------------------------------------
def test_submit_returns_a_future_with_the_result(make_executor) -> None:
    ex = make_executor(max_workers=2)
    future = ex.submit(xcalls.add, 1, b=2)
    assert isinstance(future, Future)
    assert future.result(timeout=10) == 3
    assert ex.submit(xcalls.echo, 1, "x", key=[1, 2]).result(timeout=10) == ((1, "x"), {"key": [1, 2]})


def test_map_yields_results_in_input_order(make_executor) -> None:
    ex = make_executor(max_workers=2)
    # the first inputs take the longest, so they finish last: order must still be the input order
    results = list(ex.map(xcalls.sleep_return, range(4), [0.3, 0.2, 0.1, 0.0]))
    assert results == [0, 1, 2, 3]
    assert list(ex.map(xcalls.add, [1, 2, 3], [10, 20, 30])) == [11, 22, 33]
    assert list(ex.map(xcalls.add, [1, 2, 3], [10])) == [11]  # zip semantics: the shortest iterable wins


def test_map_is_lazy(make_executor) -> None:
    ex = make_executor(max_workers=2)
    start = time.monotonic()
    results = ex.map(xcalls.sleep_return, [1, 2], [0.6, 0.6])
    assert time.monotonic() - start < 0.4, "map() must return at once and yield results as they become ready"
    assert next(results) == 1
    assert list(results) == [2]


def test_map_timeout_raises_timeout_error(make_executor) -> None:
    ex = make_executor(max_workers=1)
    results = ex.map(xcalls.sleep_return, [1, 2], [0.0, 1.5], timeout=0.8)
    assert next(results) == 1
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        next(results)
    assert time.monotonic() - start < 1.5


def test_map_resolves_a_future_given_as_an_iterable(make_executor) -> None:
    ex = make_executor(max_workers=2)
    inputs = ex.submit(xcalls.identity, [1, 2, 3])
    assert list(ex.map(xcalls.add, inputs, [10, 20, 30])) == [11, 22, 33]


# ---- shutdown ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["submit", "map"])
def test_submit_and_map_after_shutdown_raise_runtime_error(make_executor, method: str) -> None:
    ex = make_executor(max_workers=1)
    assert ex.submit(xcalls.identity, 1).result(timeout=10) == 1
    ex.shutdown()
    with pytest.raises(RuntimeError, match="cannot schedule new futures after shutdown"):
        if method == "submit":
            ex.submit(xcalls.identity, 1)
        else:
            ex.map(xcalls.identity, [1])


def test_shutdown_wait_true_waits_for_running_and_queued_calls(make_executor) -> None:
    ex = make_executor(max_workers=1)
    futures = [ex.submit(xcalls.sleep_return, i, 0.2) for i in range(3)]
    ex.shutdown(wait=True)
    assert all(f.done() for f in futures)
    assert [f.result() for f in futures] == [0, 1, 2]


def test_shutdown_wait_false_returns_at_once_and_calls_still_complete(make_executor) -> None:
    ex = make_executor(max_workers=1)
    futures = [ex.submit(xcalls.sleep_return, i, 0.4) for i in range(2)]
    start = time.monotonic()
    ex.shutdown(wait=False)
    assert time.monotonic() - start < 0.2
    assert [f.result(timeout=10) for f in futures] == [0, 1]  # stdlib: pending calls still run
    ex.shutdown(wait=True)  # a second shutdown is harmless and waits for the end


def test_shutdown_cancel_futures_cancels_calls_not_yet_started(make_executor, tmp_path) -> None:
    ex = make_executor(max_workers=1)
    started = tmp_path / "started"
    first = ex.submit(xcalls.touch_then_sleep, str(started), 0.5, "first")
    rest = [ex.submit(xcalls.write_marker, str(tmp_path / f"ran-{i}")) for i in range(4)]
    assert xprocs.eventually(started.exists)
    ex.shutdown(wait=True, cancel_futures=True)
    assert first.result() == "first", "a running call is not cancelled"
    assert rest[-1].cancelled(), "calls still queued must be cancelled"
    for i, future in enumerate(rest):
        assert future.done()
        if future.cancelled():
            assert not (tmp_path / f"ran-{i}").exists(), "a cancelled call must not run"
        else:
            assert future.result() == "ran"


def test_shutdown_cancel_futures_cancels_calls_waiting_for_inputs(make_executor, tmp_path) -> None:
    ex = make_executor(max_workers=1)
    started = tmp_path / "started"
    first = ex.submit(xcalls.touch_then_sleep, str(started), 0.4, 1)
    dependent = ex.submit(xcalls.write_marker, str(tmp_path / "dependent-ran"), first)
    assert xprocs.eventually(started.exists)
    ex.shutdown(wait=True, cancel_futures=True)
    assert first.result() == 1
    assert dependent.cancelled()
    assert not (tmp_path / "dependent-ran").exists()


def test_context_manager_shuts_down_and_waits(make_executor) -> None:
    ex = make_executor(max_workers=1)
    with ex as entered:
        assert entered is ex
        future = ex.submit(xcalls.sleep_return, "done", 0.2)
    assert future.done() and future.result() == "done"
    assert ex.info is None
    with pytest.raises(RuntimeError):
        ex.submit(xcalls.identity, 1)


# ---- info, max_workers, constructor checks ---------------------------------------------------------------------
def test_info_reports_settings_and_is_none_after_shutdown(make_executor, mode: str) -> None:
    ex = make_executor(max_workers=2, resource_dict={"cores": 1, "cwd": None})
    assert ex.submit(xcalls.identity, 1).result(timeout=10) == 1
    info = ex.info
    assert isinstance(info, dict)
    assert info["max_workers"] == 2
    if mode == "block":  # as executorlib: block allocation reports its workers, not a core budget
        assert "max_cores" not in info and info["restart_limit"] == 0
    else:
        assert info["max_cores"] is None
    assert info["cores"] == 1
    assert info["cwd"] is None
    assert info["cache_directory"] is None
    assert info["log_obj_size"] is False
    assert info["openmpi_oversubscribe"] is False
    assert "hostname_localhost" in info
    info["max_workers"] = 99  # the caller gets a copy
    assert ex.info["max_workers"] == 2
    ex.shutdown()
    assert ex.info is None


@pytest.mark.parametrize("given, expected", [(None, sys.platform == "darwin"), (True, True), (False, False)])
def test_hostname_localhost_is_resolved_and_reported(make_executor, given, expected) -> None:
    ex = make_executor(max_workers=1, hostname_localhost=given)
    assert ex.info["hostname_localhost"] is expected
    assert ex.submit(xcalls.identity, 5).result(timeout=10) == 5


@pytest.mark.parametrize("platform, expected", [("darwin", True), ("linux", False)])
def test_hostname_localhost_default_depends_on_the_platform(monkeypatch, platform: str, expected: bool) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    ex = SingleNodeExecutor(max_workers=1)
    monkeypatch.undo()
    try:
        assert ex.info["hostname_localhost"] is expected
    finally:
        ex.shutdown()


def test_max_workers_setter_needs_block_allocation() -> None:
    with SingleNodeExecutor(max_workers=2) as ex:
        assert ex.max_workers == 2
        with pytest.raises(NotImplementedError):
            ex.max_workers = 3
        assert ex.submit(xcalls.identity, 1).result(timeout=10) == 1


def test_restart_limit_needs_block_allocation() -> None:
    with pytest.raises(ValueError, match="block_allocation"):
        SingleNodeExecutor(max_workers=1, restart_limit=1)


def test_init_function_needs_block_allocation() -> None:
    with pytest.raises(ValueError, match="block_allocation"):
        SingleNodeExecutor(max_workers=1, init_function=xcalls.init_state)


def test_map_accepts_chunksize(make_executor) -> None:
    ex = make_executor(max_workers=2)
    assert list(ex.map(xcalls.add, range(5), range(5), chunksize=2)) == [0, 2, 4, 6, 8]


def test_shutdown_waits_for_calls_waiting_on_inputs(make_executor) -> None:
    ex = make_executor(max_workers=1)
    first = ex.submit(xcalls.sleep_return, 1, 0.3)
    second = ex.submit(xcalls.add, first, 1)
    third = ex.submit(xcalls.add, second, 1)
    ex.shutdown(wait=True)
    assert third.done() and third.result() == 3


def test_submit_from_many_threads(make_executor) -> None:
    import threading

    ex = make_executor(max_workers=2)
    results: dict[int, list] = {}

    def client(n: int) -> None:
        futures = [ex.submit(xcalls.add, n, i) for i in range(20)]
        results[n] = [f.result(timeout=20) for f in futures]

    threads = [threading.Thread(target=client, args=(n * 1000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(25)
    assert all(not thread.is_alive() for thread in threads), "a call submitted from a thread never finished"
    assert results == {n * 1000: [n * 1000 + i for i in range(20)] for n in range(4)}


@pytest.mark.parametrize("name", ["SlurmJobExecutor", "SlurmClusterExecutor", "FluxJobExecutor", "FluxClusterExecutor"])
def test_cluster_executors_not_implemented_yet_say_so_at_import(name: str) -> None:
    import executor

    try:
        getattr(executor, name)
    except ImportError as error:
        assert name in str(error) and "not implemented" in str(error) and "SingleNodeExecutor" in str(error)
    else:  # implemented by now: it must at least be an executor class
        assert issubclass(getattr(executor, name), executor.BaseExecutor)
