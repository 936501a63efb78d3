"""executorlib's semantics where code written for it relies on them, checked against executorlib itself.

``len(executor)``, ``max_workers`` after shutdown, ``FutureSelector.set_result``, the keys of ``info`` and
``log_obj_size``.  (Block allocation's ``max_workers`` with ``cores > 1`` is in tests/resources/test_resources_mpi.py.)
"""

from __future__ import annotations

import logging
import os
import sys
from concurrent.futures import Future

import pytest
import xcalls

import executor
from executor import SingleNodeExecutor
from executor.api import FutureSelector

executorlib = pytest.importorskip("executorlib", reason="executorlib (the test extra) is needed to compare with it")

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def with_mpiexec_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """executorlib starts every worker with ``mpiexec`` from PATH (the mpich wheel puts it next to python); its
    workers find this directory's helper modules through PYTHONPATH."""
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    here = os.path.dirname(os.path.abspath(__file__))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])))


# ---- len(executor) -------------------------------------------------------------------------------------------
def test_len_counts_calls_not_finished_yet(make_executor, tmp_path) -> None:
    ex = make_executor(max_workers=1)
    assert len(ex) == 0
    release = tmp_path / "release"
    first = ex.submit(xcalls.wait_for_file, str(release))
    queued = [ex.submit(xcalls.identity, i) for i in range(3)]
    dependent = ex.submit(xcalls.identity, first)  # waiting for an input
    assert len(ex) == 5
    release.touch()
    assert [f.result(timeout=20) for f in queued] == [0, 1, 2]
    dependent.result(timeout=20)
    assert len(ex) == 0
    ex.shutdown()
    assert len(ex) == 0


def test_len_is_zero_after_shutdown_as_in_executorlib(with_mpiexec_on_path) -> None:
    for cls in (SingleNodeExecutor, executorlib.SingleNodeExecutor):
        ex = cls(max_workers=1)
        ex.submit(xcalls.identity, 1).result(timeout=30)
        ex.shutdown(wait=True)
        assert len(ex) == 0, cls


# ---- max_workers after shutdown ------------------------------------------------------------------------------
@pytest.mark.parametrize("block", [False, True])
def test_max_workers_is_none_after_shutdown_as_in_executorlib(with_mpiexec_on_path, block: bool) -> None:
    for cls in (SingleNodeExecutor, executorlib.SingleNodeExecutor):
        ex = cls(max_workers=2, block_allocation=block)
        assert ex.max_workers == 2, cls
        ex.shutdown(wait=True)
        assert ex.max_workers is None, cls


# ---- FutureSelector.set_result --------------------------------------------------------------------------------
@pytest.mark.parametrize("module", [executor, executorlib], ids=["ours", "executorlib"])
def test_future_selector_set_result_applies_its_selector(module) -> None:
    source: Future = Future()
    first, second = module.split_future(source, 2)
    second.set_result([1, 2])
    assert second.result(timeout=1) == 2
    assert first.result(timeout=1) == 1, "the siblings share the source"
    assert source.result(timeout=1) == [1, 2]
    item = module.get_item_from_future(Future(), "a")
    item.set_result({"a": 3, "b": 4})
    assert item.result(timeout=1) == 3


def test_future_selector_set_result_on_a_done_source_is_an_invalid_state() -> None:
    source: Future = Future()
    selector = FutureSelector(source, 0)
    source.set_result([5])
    from concurrent.futures import InvalidStateError

    with pytest.raises(InvalidStateError):
        selector.set_result([6])
    assert selector.result(timeout=1) == 5


# ---- info -----------------------------------------------------------------------------------------------------
CONFIGURATIONS = [
    pytest.param({}, id="default"),
    pytest.param({"max_workers": 2, "max_cores": 3}, id="max_workers+max_cores"),
    pytest.param({"resource_dict": {"threads_per_core": 1, "gpus_per_core": 0, "priority": 2}}, id="resource_dict"),
    pytest.param({"block_allocation": True, "max_workers": 1}, id="block"),
    pytest.param({"block_allocation": True, "max_cores": 2, "init_function": xcalls.init_state}, id="block+init"),
    pytest.param({"block_allocation": True, "max_workers": 1, "restart_limit": 2, "log_obj_size": True}, id="block+restart"),
]


@pytest.mark.parametrize("kwargs", CONFIGURATIONS)
def test_info_has_the_same_keys_as_executorlib(with_mpiexec_on_path, kwargs) -> None:
    ours = SingleNodeExecutor(**kwargs)
    theirs = executorlib.SingleNodeExecutor(**{k: (dict(v) if isinstance(v, dict) else v) for k, v in kwargs.items()})
    try:
        assert set(ours.info) == set(theirs.info)
        for key in ("max_workers", "max_cores", "cores", "cache_directory", "log_obj_size", "restart_limit", "init_function"):
            if key in theirs.info:
                assert ours.info[key] == theirs.info[key], key
    finally:
        ours.shutdown()
        theirs.shutdown()


# ---- log_obj_size -----------------------------------------------------------------------------------------------
def _sizes(records: list[logging.LogRecord], prefix: str) -> list[int]:
    return [int(r.getMessage().rsplit(":", 1)[1]) for r in records if r.getMessage().startswith(prefix)]


@pytest.mark.parametrize("cls", [SingleNodeExecutor, executorlib.SingleNodeExecutor], ids=["ours", "executorlib"])
def test_log_obj_size_logs_the_pickled_size_of_inputs_and_output(with_mpiexec_on_path, caplog, cls) -> None:
    caplog.set_level(logging.WARNING, logger="executorlib")
    with cls(max_workers=1, block_allocation=True, log_obj_size=True) as ex:
        assert ex.submit(xcalls.big_result, 50_000).result(timeout=30) == b"x" * 50_000
        assert ex.submit(xcalls.identity, b"y" * 20_000).result(timeout=30) == b"y" * 20_000
    records = [r for r in caplog.records if r.name == "executorlib" and r.levelno == logging.WARNING]
    sent, received = _sizes(records, "Send dictionary of size"), _sizes(records, "Received dictionary of size")
    assert any(size >= 20_000 for size in sent), sent  # the 20 kB argument
    assert any(size >= 50_000 for size in received), received  # the 50 kB result


def test_without_log_obj_size_nothing_is_logged(make_executor, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="executorlib")
    ex = make_executor(max_workers=1)
    assert ex.submit(xcalls.identity, b"y" * 20_000).result(timeout=30) == b"y" * 20_000
    assert not [r for r in caplog.records if r.name == "executorlib"]


def test_log_obj_size_in_one_process_per_call_mode(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="executorlib")
    with SingleNodeExecutor(max_workers=1, log_obj_size=True) as ex:
        assert ex.submit(xcalls.big_result, 30_000).result(timeout=30) == b"x" * 30_000
    received = _sizes(caplog.records, "Received dictionary of size")
    assert len(received) == 1 and received[0] >= 30_000
    assert len(_sizes(caplog.records, "Send dictionary of size")) == 1
