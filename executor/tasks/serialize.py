"""Pickle a call for a worker: plain pickle where that is provably what cloudpickle would produce, else cloudpickle.

cloudpickle walks every object in Python and costs ~4 us for even a trivial call; C pickle costs ~1 us.  They
differ only for objects cloudpickle pickles *by value*: things defined in ``__main__``, in modules registered
with ``cloudpickle.register_pickle_by_value`` (``cloudpickle_register``), and things that cannot be imported
(lambdas, local functions, dynamic classes).  Plain pickle refuses the last group outright, and references to
the first two show up as the module name in the pickle stream, so checking for those names tells the cases
apart.  A false alarm (user data that happens to contain such a name) only costs the slow path.
"""

from __future__ import annotations

import pickle
from typing import Any

import cloudpickle

_PROTOCOL = pickle.HIGHEST_PROTOCOL


def _by_value_modules() -> set[str]:
    return getattr(cloudpickle.cloudpickle, "_PICKLE_BY_VALUE_MODULES", set())


def dumps_call(obj: Any) -> bytes:
    try:
        data = pickle.dumps(obj, protocol=_PROTOCOL)
    except Exception:
        return cloudpickle.dumps(obj, protocol=_PROTOCOL)
    if b"__main__" in data or any(name.encode() in data for name in _by_value_modules()):
        return cloudpickle.dumps(obj, protocol=_PROTOCOL)
    return data
