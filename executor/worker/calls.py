"""Run one call inside a worker and turn its outcome into bytes for the parent.

Kept free of ZeroMQ so it can be tested directly and reused by the MPI worker.
"""

from __future__ import annotations

# The C module: ``pickle.py`` adds ~3 ms of imports to every worker and we only need loads/dumps.
import _pickle as pickle

TYPE_CHECKING = False

if TYPE_CHECKING:  # typing costs every worker ~4 ms at start-up; annotations are strings anyway
    from collections.abc import Callable
    from typing import Any

from executor.channel import oob
from executor.tasks.signature import accepted_names


def dumps(value: Any) -> oob.Pickled:
    """Pickle ``value``: plain pickle first (fast), cloudpickle for what plain pickle cannot do; large buffers
    (NumPy arrays) out of band (``executor.channel.oob``)."""
    try:
        return oob.split(pickle.dumps, value)
    except Exception:
        import cloudpickle

        return oob.split(cloudpickle.dumps, value)


def inject(fn: Callable[..., Any], kwargs: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Add the ``extra`` entries (``executorlib_worker_id``, init_function results) that ``fn`` names."""
    names = accepted_names(fn)
    added = {k: v for k, v in extra.items() if k in names and k not in kwargs}
    return {**kwargs, **added} if added else kwargs


def failure(error: BaseException) -> oob.Pickled:
    """Pickle ``(exception, traceback text)``.  An exception that does not survive the round trip (cannot be
    pickled, or not re-created from its pickle) is replaced by a ``RemoteError`` naming its type and message."""
    import traceback  # imported on the first failure only (the fork server pre-imports it when idle)

    tb = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    error.__traceback__ = None
    try:
        data = dumps((error, tb))
        oob.loads(data)  # what the parent will do: an __init__ with other arguments than its args fails here
        return data
    except Exception as problem:
        from executor.errors import RemoteError

        kind = type(error)
        try:
            message = str(error)
        except Exception:
            message = "<str() of the exception failed>"
        stand_in = RemoteError(f"{kind.__module__}.{kind.__qualname__}", message, f"{type(problem).__name__}: {problem}")
        return dumps((stand_in, tb))


def run(payload: oob.Pickled, extra: dict[str, Any]) -> tuple[bool, oob.Pickled]:
    """Unpickle ``(fn, args, kwargs)`` from ``payload``, call it and return ``(ok, data)``.

    ``SystemExit`` is not caught: a function that calls ``sys.exit()`` ends its worker, as it would end any
    process, and the parent reports the lost call.
    """
    try:
        fn, args, kwargs = oob.loads(payload)
        if extra:
            kwargs = inject(fn, kwargs, extra)
        value = fn(*args, **kwargs)
    except SystemExit:
        raise
    except BaseException as error:
        return False, failure(error)
    try:
        return True, dumps(value)
    except Exception as error:
        name = getattr(fn, "__qualname__", repr(fn))
        return False, failure(
            pickle.PicklingError(f"the result of {name}() could not be pickled to send it back: {type(error).__name__}: {error}")
        )
