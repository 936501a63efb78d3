"""How calls are pickled for workers: plain pickle only where cloudpickle would produce the same thing."""

from __future__ import annotations

import pickle
import sys

import cloudpickle
import pytest

from executor.tasks import serialize


def test_a_function_of_a_module_registered_by_value_travels_by_value(tmp_path, monkeypatch) -> None:
    (tmp_path / "xlib_by_value_mod.py").write_text("def triple(x):\n    return 3 * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import xlib_by_value_mod

    cloudpickle.register_pickle_by_value(xlib_by_value_mod)
    try:
        data = serialize.dumps_call((xlib_by_value_mod.triple, (2,), {}))
    finally:
        cloudpickle.unregister_pickle_by_value(xlib_by_value_mod)
    monkeypatch.delitem(sys.modules, "xlib_by_value_mod")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(tmp_path)])
    fn, args, _ = pickle.loads(data)  # a worker that cannot import the module still gets the function
    assert fn(*args) == 6


def test_a_cloudpickle_without_the_registry_is_reported_and_never_degrades_to_plain_pickle(monkeypatch) -> None:
    monkeypatch.delattr(cloudpickle.cloudpickle, "_PICKLE_BY_VALUE_MODULES")
    with pytest.warns(RuntimeWarning, match="_PICKLE_BY_VALUE_MODULES"):
        registry = serialize.by_value_registry()
    assert registry is None
    monkeypatch.setattr(serialize, "_REGISTRY", None)
    assert serialize.dumps_call((len, ([1],), {})) == cloudpickle.dumps((len, ([1],), {}), protocol=pickle.HIGHEST_PROTOCOL)
