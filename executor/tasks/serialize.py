"""Pickle a call for a worker: plain pickle where that is provably what cloudpickle would produce, else cloudpickle.

cloudpickle walks every object in Python and costs ~4 us for even a trivial call; C pickle costs ~1 us.  They
differ only for objects cloudpickle pickles *by value*: things defined in ``__main__``, in modules registered
with ``cloudpickle.register_pickle_by_value`` (``cloudpickle_register``), and things that cannot be imported
(lambdas, local functions, dynamic classes).  Plain pickle refuses the last group outright, and references to
the first two show up as the module name in the pickle stream, so checking for those names tells the cases
apart.  A false alarm (user data that happens to contain such a name) only costs the slow path.

The modules registered by value are in a private name of cloudpickle (``_PICKLE_BY_VALUE_MODULES``, there since
cloudpickle 2.0).  If a cloudpickle release moves it, this module does not guess: every call is pickled with
cloudpickle (always correct, ~3 us slower) and one ``RuntimeWarning`` says so.  Degrading to plain pickle instead
would silently send registered modules by reference, to workers that may not be able to import them.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Collection
from typing import Any

import cloudpickle

_PROTOCOL = pickle.HIGHEST_PROTOCOL


def by_value_registry() -> Collection[str] | None:
    """The names of modules registered with ``cloudpickle.register_pickle_by_value`` (a live set), or ``None``
    (with one warning) if this cloudpickle keeps them elsewhere."""
    registry = getattr(getattr(cloudpickle, "cloudpickle", None), "_PICKLE_BY_VALUE_MODULES", None)
    if isinstance(registry, (set, frozenset, dict)):
        return registry
    warnings.warn(
        f"cloudpickle {getattr(cloudpickle, '__version__', '?')} does not keep its by-value registry where this "
        "executor looks (cloudpickle.cloudpickle._PICKLE_BY_VALUE_MODULES); every call is pickled with cloudpickle "
        "(correct, slightly slower)",
        RuntimeWarning,
        stacklevel=2,
    )
    return None


_REGISTRY = by_value_registry()


def dumps_call(obj: Any) -> bytes:
    if _REGISTRY is None:
        return cloudpickle.dumps(obj, protocol=_PROTOCOL)
    try:
        data = pickle.dumps(obj, protocol=_PROTOCOL)
    except Exception:
        return cloudpickle.dumps(obj, protocol=_PROTOCOL)
    if b"__main__" in data or any(name.encode() in data for name in _REGISTRY):
        return cloudpickle.dumps(obj, protocol=_PROTOCOL)
    return data
