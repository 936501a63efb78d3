"""Storage layer: valid HDF5 out, byte-offset reads in, damaged and foreign-version files are misses."""

from __future__ import annotations

import contextlib
import os
import struct
import sys
import warnings

import cloudpickle
import pytest
from cache_helpers import add, needs_h5py
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from executor.cache import h5image, h5py_reader, paths, store
from executor.cache.errors import (
    CacheCorruptError,
    CacheCorruptWarning,
    CacheVersionError,
    CacheVersionWarning,
)
from executor.cache.store import load_output, pickle_value, read_file, store_output, write_file

FULL = {
    "function": pickle_value(add),
    "input_args": pickle_value((1,)),
    "input_kwargs": pickle_value({"y": 2}),
    "resource_dict": pickle_value({"cores": 1}),
    "runtime": pickle_value(0.25),
}


def save(path, value, **extra):
    store_output(path, pickle_value(value), **{**FULL, **extra}, function_name="add")


@contextlib.contextmanager
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_round_trip_and_miss(tmp_path):
    path = paths.output_path(str(tmp_path), "add123")
    assert load_output(path) == (False, None)
    save(path, {"a": [1, 2]})
    assert load_output(path) == (True, {"a": [1, 2]})
    content = read_file(path)
    assert content.version == store.FORMAT_VERSION
    assert content.meta["function"] == "add"
    assert content.load("input_kwargs") == {"y": 2}
    assert os.listdir(tmp_path) == ["add123_o.h5"]  # no temporary file left behind


def test_keys_with_slashes_create_subdirectories(tmp_path):
    path = paths.output_path(str(tmp_path), "group/sub/key")
    save(path, 5)
    assert (tmp_path / "group" / "sub" / "key_o.h5").is_file()
    assert load_output(path) == (True, 5)


@needs_h5py
def test_file_is_plain_hdf5_with_version_attribute(tmp_path):
    import h5py

    path = str(tmp_path / "k_o.h5")
    save(path, 41)
    with h5py.File(path, "r") as hdf:
        assert sorted(hdf) == ["function", "input_args", "input_kwargs", "output", "resource_dict", "runtime"]
        assert hdf.attrs[store.FORMAT_ATTRIBUTE] == store.FORMAT_VERSION
        assert hdf["output"].dtype == "uint8" and hdf["output"].ndim == 1
        assert cloudpickle.loads(hdf["output"][()].tobytes()) == 41
        assert cloudpickle.loads(hdf["function"][()].tobytes()) is add


@needs_h5py
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    content=st.dictionaries(
        st.sampled_from(store.DATASET_NAMES), st.binary(min_size=1, max_size=40000), min_size=1, max_size=9
    )
)
def test_any_dataset_set_is_readable_by_h5py(tmp_path, content):
    import h5py

    path = str(tmp_path / "x_o.h5")
    write_file(path, content)
    with h5py.File(path, "r") as hdf:
        assert {k: hdf[k][()].tobytes() for k in hdf} == content
    assert read_file(path).datasets == content


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | st.binary(),
    lambda c: st.lists(c, max_size=5) | st.dictionaries(st.text(max_size=5), c, max_size=5) | st.tuples(c, c),
    max_leaves=30,
)
keys = st.lists(st.text(alphabet="abcdefgh0123_-.", min_size=1, max_size=8).filter(lambda s: s not in (".", "..")), min_size=1, max_size=3).map("/".join)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=values, key=keys)
def test_arbitrary_values_round_trip_under_any_key(tmp_path, value, key):
    path = paths.output_path(str(tmp_path), key)
    save(path, value)
    with no_warnings():
        assert load_output(path) == (True, value)


def test_large_output_is_read_beyond_the_first_block(tmp_path):
    path = str(tmp_path / "big_o.h5")
    value = os.urandom(300_000)
    save(path, value)
    assert load_output(path) == (True, value)


def test_errors_are_not_cached_results(tmp_path):
    path = str(tmp_path / "e_o.h5")
    write_file(path, {"error": pickle_value(ValueError("x")), **FULL})
    assert load_output(path) == (False, None)
    input_file = str(tmp_path / "e_i.h5")
    write_file(input_file, FULL)
    assert load_output(input_file) == (False, None)


def _damage_cases(data: bytes):
    out_off = len(data) - 1
    yield "empty", b""
    yield "garbage", b"not an hdf5 file at all" * 10
    yield "truncated-in-header", data[:100]
    yield "truncated-half", data[: len(data) // 2]
    yield "truncated-last-byte", data[:-1]
    flipped = bytearray(data)
    flipped[out_off] ^= 0xFF
    yield "flipped-output-byte", bytes(flipped)
    header = bytearray(data)
    header[30] ^= 0xFF
    yield "flipped-header-byte", bytes(header)


@pytest.mark.parametrize("case", [c for c, _ in _damage_cases(b"x" * 1000)])
def test_damaged_file_is_a_miss_with_one_warning_and_is_rewritten(tmp_path, case):
    path = str(tmp_path / "d_o.h5")
    store_output(path, pickle_value("v"))  # output is the last dataset: the flipped last byte hits it
    good = open(path, "rb").read()
    damaged = dict(_damage_cases(good))[case]
    with open(path, "wb") as fh:
        fh.write(damaged)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert load_output(path) == (False, None)
        assert load_output(path) == (False, None)  # same file state: no second warning
    assert [w.category for w in caught] == [CacheCorruptWarning], [str(w.message) for w in caught]
    assert path in str(caught[0].message)
    with pytest.raises(CacheCorruptError, match="d_o.h5"):
        read_file(path)
    store_output(path, pickle_value("fresh"))
    with no_warnings():
        assert load_output(path) == (True, "fresh")


def test_unpicklable_output_is_a_miss_with_a_warning(tmp_path):
    path = str(tmp_path / "u_o.h5")
    store_output(path, b"\x80\x05definitely not a pickle")
    with pytest.warns(CacheCorruptWarning, match="cannot be unpickled"):
        assert load_output(path) == (False, None)


def _set_version(path, version):
    data = bytearray(open(path, "rb").read())
    struct.pack_into("<H", data, 8, version)
    with open(path, "wb") as fh:
        fh.write(data)


def test_other_format_version_is_reported_clearly_and_ignored(tmp_path):
    path = str(tmp_path / "v_o.h5")
    save(path, 1)
    _set_version(path, 99)
    with pytest.warns(CacheVersionWarning) as caught:
        assert load_output(path) == (False, None)
    message = str(caught[0].message)
    assert path in message and "format version 99" in message and f"format version {store.FORMAT_VERSION}" in message
    assert "pytest-executorlib" in message
    with pytest.raises(CacheVersionError, match="format version 99"):
        read_file(path)
    save(path, 2)  # the next store replaces it
    assert load_output(path) == (True, 2)


@needs_h5py
def test_other_version_in_hdf5_attribute_is_detected_on_the_h5py_path(tmp_path):
    import h5py
    import numpy as np

    path = str(tmp_path / "a_o.h5")
    with h5py.File(path, "w") as hdf:
        hdf["output"] = np.frombuffer(pickle_value(1), dtype=np.uint8)
        hdf.attrs[store.FORMAT_ATTRIBUTE] = 7
    with pytest.warns(CacheVersionWarning, match="format version 7"):
        assert load_output(path) == (False, None)


@needs_h5py
def test_file_appended_by_hdf5_library_is_read_through_h5py(tmp_path):
    import h5py
    import numpy as np

    path = str(tmp_path / "m_i.h5")
    write_file(path, FULL)
    with h5py.File(path, "a") as hdf:  # what executorlib's cluster backend does to an input file
        hdf.create_dataset("output", data=np.frombuffer(pickle_value("late"), dtype=np.uint8), compression="gzip")
    with no_warnings():
        assert load_output(path) == (True, "late")
        assert read_file(path).load("input_kwargs") == {"y": 2}


def test_add_datasets_rewrites_atomically(tmp_path):
    path = str(tmp_path / "q_i.h5")
    write_file(path, FULL, function_name="add")
    store.add_datasets(path, {"queue_id": pickle_value(1234)})
    content = read_file(path)
    assert content.load("queue_id") == 1234
    assert content.load("input_args") == (1,)
    assert content.meta["function"] == "add"


def test_unknown_dataset_name_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown cache dataset"):
        write_file(str(tmp_path / "x_o.h5"), {"outptu": b"1"})


def test_image_builder_limits():
    with pytest.raises(ValueError):
        h5image.build_image({}, {})
    with pytest.raises(ValueError):
        h5image.build_image({"output": b""}, {})


def test_missing_h5py_names_the_cache_extra(monkeypatch):
    monkeypatch.setattr(h5py_reader, "_h5py", None)
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"pip install 'pytest-executorlib\[cache\]'"):
        h5py_reader.require_h5py()


def test_temp_file_names_are_invisible_to_cache_readers():
    assert paths.is_temp_file("abc_o.h5.123-4.tmp")
    assert not paths.is_cache_file("abc_o.h5.123-4.tmp")
    assert not paths.is_temp_file("abc.tmp")


@needs_h5py
def test_hdf5_library_can_grow_our_group_past_one_symbol_table_node(tmp_path):
    import h5py
    import numpy as np

    path = str(tmp_path / "g_o.h5")
    write_file(path, {name: pickle_value(name) for name in store.DATASET_NAMES})
    with h5py.File(path, "a") as hdf:  # forces B-tree splits and heap growth in the structures we wrote
        for i in range(40):
            hdf.create_dataset(f"extra_{i:02d}", data=np.arange(i + 1, dtype=np.uint8))
        hdf.attrs["note"] = "appended"
    with h5py.File(path, "r") as hdf:
        assert len(hdf) == len(store.DATASET_NAMES) + 40
        assert hdf["extra_39"][-1] == 39
    content = read_file(path)
    assert {n: content.load(n) for n in store.DATASET_NAMES} == {n: n for n in store.DATASET_NAMES}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_truncation_or_byte_flip_is_the_right_value_or_a_miss_never_a_crash(tmp_path, data):
    path = str(tmp_path / "h_o.h5")
    value = {"payload": list(range(50))}
    store_output(path, pickle_value(value), function=pickle_value(add))
    good = open(path, "rb").read()
    if data.draw(st.booleans(), label="truncate"):
        damaged = good[: data.draw(st.integers(0, len(good) - 1), label="length")]
    else:
        damaged = bytearray(good)
        damaged[data.draw(st.integers(0, len(good) - 1), label="position")] ^= data.draw(st.integers(1, 255))
    with open(path, "wb") as fh:
        fh.write(damaged)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found, result = load_output(path)
    assert (found, result) in ((True, value), (False, None))
    assert len(caught) <= 1
    if not found:
        assert caught and issubclass(caught[0].category, (CacheCorruptWarning, CacheVersionWarning))


def test_own_files_are_read_without_h5py(tmp_path, monkeypatch):
    path = str(tmp_path / "n_o.h5")
    store_output(path, pickle_value("no h5py needed"))
    monkeypatch.setattr(h5py_reader, "_h5py", None)
    monkeypatch.setitem(sys.modules, "h5py", None)
    assert load_output(path) == (True, "no h5py needed")


def test_importing_the_cache_does_not_import_h5py():
    import subprocess

    code = "import sys, executor.cache, executor.cache.api; print('h5py' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr


def test_result_cache_is_what_the_executor_calls(tmp_path, monkeypatch):
    from executor.cache import ResultCache

    monkeypatch.chdir(tmp_path)
    cache = ResultCache("rel")
    assert cache.directory == str(tmp_path / "rel")
    key = cache.key(add, (1,), {"y": 2})
    assert cache.lookup(key) == (False, None)
    cache.store(key, pickle_value(3), add, (1,), {"y": 2}, {"cores": 1}, 0.5)
    assert cache.lookup(key) == (True, 3)
    content = read_file(cache.output_path(key))
    assert content.meta["function"] == "add" and content.load("runtime") == 0.5
    assert cache.key(add, (1,), {}, cache_key="a/b") == "a/b"


def test_result_cache_without_h5py_fails_at_construction(tmp_path, monkeypatch):
    from executor.cache import ResultCache

    monkeypatch.setattr(h5py_reader, "_h5py", None)
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"pytest-executorlib\[cache\]"):
        ResultCache(str(tmp_path))
