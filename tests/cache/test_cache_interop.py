"""Interoperability both ways with executorlib installed from PyPI: same keys, same files, either reads the other."""

from __future__ import annotations

import math
import posixpath

import pytest
from cache_helpers import add, needs_executorlib

from executor.cache import api, paths
from executor.cache.key import task_key
from executor.cache.store import load_output, pickle_value, read_file, store_output, write_file

pytestmark = needs_executorlib


def _ours(directory, key, value):
    path = paths.output_path(str(directory), key)
    store_output(
        path,
        pickle_value(value),
        function=pickle_value(add),
        input_args=pickle_value((1,)),
        input_kwargs=pickle_value({"y": 2}),
        resource_dict=pickle_value({}),
        runtime=pickle_value(0.5),
    )
    return path


def test_executorlib_reads_our_output_files(tmp_path):
    import executorlib
    from executorlib.standalone.hdf import get_output, get_runtime

    path = _ours(tmp_path, "nested/key", {"v": 3})
    assert get_output(path) == (True, True, {"v": 3})
    assert get_runtime(path) == 0.5
    assert executorlib.get_future_from_cache(str(tmp_path), "nested/key").result() == {"v": 3}
    (entry,) = executorlib.get_cache_data(str(tmp_path))
    assert entry["output"] == {"v": 3} and entry["function"] is add and entry["input_kwargs"] == {"y": 2}
    assert entry["filename"] == path


def test_executorlib_loads_our_input_files(tmp_path):
    from executorlib.standalone.hdf import load

    path = paths.input_path(str(tmp_path), "k")
    write_file(path, {"function": pickle_value(add), "input_args": pickle_value([1]), "input_kwargs": pickle_value({}),
                      "resource_dict": pickle_value({"cores": 1})})
    assert load(path) == {"fn": add, "args": [1], "kwargs": {}, "resource_dict": {"cores": 1}}


def test_we_read_executorlib_files(tmp_path):
    from executorlib.standalone.hdf import dump

    path = paths.output_path(str(tmp_path), "theirs")
    dump(path, {"fn": add, "args": (1,), "kwargs": {}, "output": [1, 2], "runtime": 0.1})
    assert load_output(path) == (True, [1, 2])
    assert read_file(path).version is None
    assert api.get_future_from_cache(str(tmp_path), "theirs").result() == [1, 2]
    (entry,) = api.get_cache_data(str(tmp_path))
    assert entry["output"] == [1, 2] and entry["function"] is add and entry["filename"] == path


def test_executorlib_error_record_is_raised_by_get_future_but_is_no_hit(tmp_path):
    from executorlib.standalone.hdf import dump

    path = paths.output_path(str(tmp_path), "err")
    dump(path, {"error": ValueError("boom"), "runtime": 0.1})
    assert load_output(path) == (False, None)
    with pytest.raises(ValueError, match="boom"):
        api.get_future_from_cache(str(tmp_path), "err")


def test_executorlib_executor_writes_what_our_key_finds(tmp_path):
    from executorlib import SingleNodeExecutor

    with SingleNodeExecutor(cache_directory=str(tmp_path)) as exe:
        assert exe.submit(posixpath.join, "a", "b").result() == "a/b"
    path = paths.output_path(str(tmp_path), task_key(posixpath.join, ("a", "b"), {}))
    assert load_output(path) == (True, "a/b")


def test_executorlib_executor_hits_the_file_we_wrote(tmp_path):
    from executorlib import SingleNodeExecutor

    path = paths.output_path(str(tmp_path), task_key(posixpath.join, ("c", "d"), {}))
    store_output(path, pickle_value("from pytest-executorlib"))
    with SingleNodeExecutor(cache_directory=str(tmp_path)) as exe:
        # the value can only come from our file: running the call would give "c/d"
        assert exe.submit(posixpath.join, "c", "d").result() == "from pytest-executorlib"


def test_executorlib_cluster_backend_runs_our_input_file(tmp_path):
    from executorlib.task_scheduler.file.backend import backend_execute_task_in_file

    key = task_key(math.hypot, [5, 12], {})  # cluster executors hash the args as a list
    file_in = paths.input_path(str(tmp_path), key)
    write_file(file_in, {"function": pickle_value(math.hypot), "input_args": pickle_value([5, 12]),
                         "input_kwargs": pickle_value({}), "resource_dict": pickle_value({})})
    backend_execute_task_in_file(file_in)  # renames to _r.h5, appends output with h5py, renames to _o.h5
    assert load_output(paths.output_path(str(tmp_path), key)) == (True, 13.0)
    assert api.get_future_from_cache(str(tmp_path), key).result() == 13.0
