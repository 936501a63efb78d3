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
import sys
import warnings
from collections.abc import Collection
from typing import Any

from executor.channel import oob

_PROTOCOL = pickle.HIGHEST_PROTOCOL


def by_value_registry() -> Collection[str] | None:
    """The names of modules registered with ``cloudpickle.register_pickle_by_value`` (a live set), or ``None``
    (with one warning) if this cloudpickle keeps them elsewhere."""
    import cloudpickle

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


_NOT_LOOKED_UP: Any = object()
# Looked up once cloudpickle is imported.  Importing it costs ~15 ms, which a fresh process should not pay before
# its first call unless that call needs it; and until something imported cloudpickle, nothing can have been
# registered by value.
_REGISTRY: Collection[str] | None = _NOT_LOOKED_UP


def _registry() -> Collection[str] | None:
    global _REGISTRY
    if _REGISTRY is _NOT_LOOKED_UP:
        if "cloudpickle" not in sys.modules:
            return ()
        _REGISTRY = by_value_registry()
    return _REGISTRY


def _cloudpickle_dumps(obj: Any) -> oob.Pickled:
    import cloudpickle

    return oob.split(cloudpickle.dumps, obj)


def dumps_call(obj: Any) -> oob.Pickled:
    """Pickle ``(fn, args, kwargs)``; large buffers (NumPy arrays) stay out of band, referenced, not copied
    (``executor.channel.oob``): a call's arguments must not be changed until it has been sent."""
    registry = _registry()
    if registry is None:
        return _cloudpickle_dumps(obj)
    try:
        data = oob.split(pickle.dumps, obj)
    except Exception:
        return _cloudpickle_dumps(obj)
    body = data[0] if isinstance(data, tuple) else data
    if b"__main__" in body or any(name.encode() in body for name in registry):
        return _cloudpickle_dumps(obj)
    return data
