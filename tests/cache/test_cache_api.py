"""executorlib's public cache functions: get_cache_data, get_future_from_cache, terminate_task(s)_in_cache."""

from __future__ import annotations

import importlib.util
import os
import stat
import warnings

import pytest
from cache_helpers import add

import executor
from executor.cache import api, paths
from executor.cache.errors import CacheCorruptWarning, CachePendingError
from executor.cache.store import pickle_value, store_output, write_file


def test_exported_from_the_package():
    assert executor.get_cache_data is api.get_cache_data
    assert executor.get_future_from_cache is api.get_future_from_cache
    assert executor.terminate_tasks_in_cache is api.terminate_tasks_in_cache
    assert executor.terminate_task_in_cache is api.terminate_task_in_cache


def test_get_future_from_cache_states(tmp_path):
    d = str(tmp_path)
    store_output(paths.output_path(d, "done"), pickle_value(7))
    write_file(paths.input_path(d, "queued"), {"function": pickle_value(add)})
    write_file(paths.output_path(d, "failed"), {"error": pickle_value(KeyError("k"))})
    future = api.get_future_from_cache(d, "done")
    assert future.done() and future.result() == 7
    with pytest.raises(CachePendingError, match="queued") as info:
        api.get_future_from_cache(d, "queued")
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(KeyError):
        api.get_future_from_cache(d, "failed")
    with pytest.raises(FileNotFoundError, match="Neither input nor output"):
        api.get_future_from_cache(d, "unknown")


def test_get_cache_data_lists_every_file_and_skips_damaged_ones(tmp_path):
    d = str(tmp_path)
    store_output(paths.output_path(d, "a/one"), pickle_value(1), function=pickle_value(add),
                 input_args=pickle_value((1,)), input_kwargs=pickle_value({}))
    write_file(paths.input_path(d, "two"), {"function": pickle_value(add), "queue_id": pickle_value(3)})
    (tmp_path / "bad_o.h5").write_bytes(b"junk")
    (tmp_path / "ignored.txt").write_text("x")
    with pytest.warns(CacheCorruptWarning, match="bad_o.h5"):
        data = api.get_cache_data(d)
    by_file = {os.path.relpath(e["filename"], d): e for e in data}
    assert set(by_file) == {os.path.join("a", "one_o.h5"), "two_i.h5"}
    assert by_file[os.path.join("a", "one_o.h5")]["output"] == 1
    assert by_file["two_i.h5"]["queue_id"] == 3 and "output" not in by_file["two_i.h5"]


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    """``squeue`` reporting job 17 running and 19 pending, ``scancel`` recording its arguments."""
    if importlib.util.find_spec("pysqa") is None:
        pytest.skip("pysqa is not installed (pip install 'pytest-executorlib[cluster]')")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "scancel.log"
    scripts = {
        "squeue": "#!/bin/sh\necho '17|me|R|job17|/tmp'\necho '19|me|PD|job19|/tmp'\n",
        "scancel": f"#!/bin/sh\necho \"$@\" >> {log}\n",
    }
    for name, body in scripts.items():
        script = bin_dir / name
        script.write_text(body)
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def test_terminate_tasks_in_cache_cancels_live_jobs_and_removes_inputs(tmp_path, fake_slurm):
    d = str(tmp_path / "cache")
    write_file(paths.input_path(d, "running"), {"function": pickle_value(add), "queue_id": pickle_value(17)})
    write_file(paths.input_path(d, "sub/gone"), {"function": pickle_value(add), "queue_id": pickle_value(18)})
    write_file(paths.input_path(d, "noid"), {"function": pickle_value(add)})
    store_output(paths.output_path(d, "finished"), pickle_value(1))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheCorruptWarning)
        api.terminate_tasks_in_cache(d, backend="slurm")
    assert fake_slurm.read_text().split() == ["17"]  # 18 is unknown to squeue: nothing to cancel
    remaining = sorted(os.path.relpath(p, d) for p in paths.iter_cache_files(d))
    assert remaining == ["finished_o.h5"]


def test_terminate_task_in_cache_one_key(tmp_path, fake_slurm):
    d = str(tmp_path / "cache")
    write_file(paths.input_path(d, "a/b"), {"function": pickle_value(add), "queue_id": pickle_value(17)})
    write_file(paths.input_path(d, "c"), {"function": pickle_value(add), "queue_id": pickle_value(19)})
    write_file(paths.input_path(d, "e"), {"function": pickle_value(add), "queue_id": pickle_value(20)})
    api.terminate_task_in_cache(d, "a/b", backend="slurm")
    api.terminate_task_in_cache(d, "c", backend="slurm")
    api.terminate_task_in_cache(d, "e", backend="slurm")  # unknown to squeue (ended): nothing to cancel
    assert fake_slurm.read_text().split() == ["17", "19"]
    assert list(paths.iter_cache_files(d)) == []
    with pytest.raises(FileNotFoundError):
        api.terminate_task_in_cache(d, "a/b", backend="slurm")
