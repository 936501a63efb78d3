"""The cache through the executor: a hit runs nothing, errors are not cached, keys and directories per call."""

from __future__ import annotations

import os

import pytest
from cache_helpers import add, fail, needs_executorlib, needs_h5py

from executor import SingleNodeExecutor, get_cache_data, get_future_from_cache, telemetry

MODES = [{}, {"block_allocation": True, "max_workers": 1}]
pytestmark = [needs_h5py, pytest.mark.timeout(60)]


@pytest.mark.parametrize("mode", MODES, ids=["per_call", "block"])
def test_a_hit_resolves_without_starting_any_worker(tmp_path, mode) -> None:
    with SingleNodeExecutor(cache_directory=str(tmp_path), **mode) as ex:
        assert ex.submit(add, 1, y=2).result() == 3
    before = telemetry.snapshot()
    with SingleNodeExecutor(cache_directory=str(tmp_path), **mode) as ex:
        future = ex.submit(add, 1, y=2)
        assert future.done(), "a hit must resolve in submit(), without waiting for any worker"
        assert future.result() == 3
        spawned_by_submit = telemetry.snapshot()["calls_run"] - before["calls_run"]
    after = telemetry.snapshot()
    assert spawned_by_submit == 0
    assert after["cache_hits"] - before["cache_hits"] == 1


def test_errors_are_not_cached(tmp_path) -> None:
    with SingleNodeExecutor(cache_directory=str(tmp_path)) as ex:
        with pytest.raises(ValueError, match="bad 1"):
            ex.submit(fail, 1).result()
        assert not list(tmp_path.rglob("*_o.h5"))
        with pytest.raises(ValueError, match="bad 1"):  # it runs again rather than replaying an error
            ex.submit(fail, 1).result()


def test_cache_key_with_slashes_and_a_per_call_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with SingleNodeExecutor() as ex:
        resources = {"cache_key": "study/run-1", "cache_directory": "relative_cache"}
        assert ex.submit(add, 40, y=2, resource_dict=resources).result() == 42
    monkeypatch.chdir("/")  # the relative directory was resolved where the call was submitted
    written = tmp_path / "relative_cache" / "study" / "run-1_o.h5"
    assert written.exists()
    assert get_future_from_cache(str(tmp_path / "relative_cache"), "study/run-1").result() == 42
    (entry,) = get_cache_data(str(tmp_path / "relative_cache"))
    assert entry["output"] == 42 and entry["filename"].endswith(os.path.join("study", "run-1_o.h5"))


def test_the_executor_registers_its_cache_directory_for_the_plugin(tmp_path) -> None:
    with SingleNodeExecutor(cache_directory=str(tmp_path / "c")) as ex:
        ex.submit(add, 1).result()
    assert str(tmp_path / "c") in telemetry.cache_directories()


@needs_executorlib
def test_executorlib_executor_hits_what_ours_wrote_and_the_other_way_round(tmp_path, monkeypatch) -> None:
    import executorlib

    # executorlib's workers do not get the caller's sys.path (ours do): tell them where cache_helpers is
    here = os.path.dirname(os.path.abspath(__file__))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])))

    with SingleNodeExecutor(cache_directory=str(tmp_path)) as ex:
        assert ex.submit(add, 5, y=6).result() == 11
    with executorlib.SingleNodeExecutor(cache_directory=str(tmp_path)) as ex:
        assert ex.submit(add, 5, y=6).result() == 11
        assert ex.submit(add, 7, y=8).result() == 15  # written by executorlib
    files_before = {p.name: p.stat().st_mtime_ns for p in tmp_path.rglob("*_o.h5")}
    assert len(files_before) == 2
    with SingleNodeExecutor(cache_directory=str(tmp_path)) as ex:
        future = ex.submit(add, 7, y=8)
        assert future.done() and future.result() == 15  # a hit on executorlib's file
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.rglob("*_o.h5")} == files_before
