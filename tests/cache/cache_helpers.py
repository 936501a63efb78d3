"""Helpers shared by the cache tests (a uniquely named module: tests/ has several conftest.py files)."""

from __future__ import annotations

import importlib.util

import pytest

HAS_H5PY = importlib.util.find_spec("h5py") is not None
HAS_EXECUTORLIB = importlib.util.find_spec("executorlib") is not None

needs_h5py = pytest.mark.skipif(not HAS_H5PY, reason="h5py is not installed (pip install pytest-executorlib[cache])")
needs_executorlib = pytest.mark.skipif(
    not (HAS_EXECUTORLIB and HAS_H5PY), reason="executorlib (from PyPI) and h5py are needed for interop tests"
)


def add(x, y=0):
    """A module-level function: pickled by reference, like most user code."""
    return x + y


def fail(x):
    raise ValueError(f"bad {x}")


def write_same_key(path: str, writer: int, rounds: int) -> None:
    """Process target: store ``rounds`` results under one key; sizes vary so a torn file would show."""
    from executor.cache.store import pickle_value, store_output

    for i in range(rounds):
        value = (writer, i, bytes([writer]) * (100 + (i * 7919) % 50_000))
        store_output(path, pickle_value(value), input_args=pickle_value((writer, i)))


def read_while_written(path: str, stop_file: str, use_h5py: bool) -> tuple[int, int, list[str]]:
    """Process target: read ``path`` until ``stop_file`` exists; return (hits, misses, problems)."""
    import os
    import warnings

    from executor.cache.store import load_output

    if use_h5py:  # imported first: its import-time warnings (pydantic deprecations when installed) are not reads
        from executorlib.standalone.hdf import get_output

    hits = misses = 0
    problems: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        while not os.path.exists(stop_file) or hits + misses < 50:
            found, value = load_output(path)
            if not found:
                misses += 1
                continue
            hits += 1
            writer, i, payload = value
            if payload != bytes([writer]) * (100 + (i * 7919) % 50_000):
                problems.append(f"inconsistent value {writer} {i}")
            if use_h5py and hits % 10 == 0:
                done, ok, other = get_output(path)
                if not (done and ok and len(other) == 3):
                    problems.append("executorlib read failed")
    problems += [str(w.message) for w in caught]
    return hits, misses, problems
