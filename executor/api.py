"""Names for libraries built on the executor (as ``executorlib.api``)."""

from __future__ import annotations

import inspect

import cloudpickle

from executor.errors import ExecutorlibSocketError
from executor.errors import CallStoppedError
from executor.frontends.live import shutdown_all, terminate, terminate_all
from executor.tasks.selectors import FutureSelector

# executorlib's names, plus this package's own: shutdown_all (shut down every executor still running), terminate
# and terminate_all (stop running calls now, kill their workers; for test runners after a failed test)
__all__ = [
    "CallStoppedError",
    "ExecutorlibSocketError",
    "FutureSelector",
    "cloudpickle_register",
    "shutdown_all",
    "terminate",
    "terminate_all",
]


def cloudpickle_register(ind: int = 2) -> None:
    """Pickle the module ``ind`` frames up the stack by value, so its functions reach workers that cannot import it.

    ``ind=2`` is the caller of the function that calls ``cloudpickle_register``; ``ind=1`` the direct caller.
    Frames beyond the top of the stack fall back to the outermost one; modules that cannot be pickled by value
    (``__main__`` already is) are left alone.
    """
    stack = inspect.stack()
    frame = stack[min(ind, len(stack) - 1)][0]
    module = inspect.getmodule(frame)
    if module is None or module.__name__ == "__main__":
        return
    try:
        cloudpickle.register_pickle_by_value(module)
    except ValueError:
        pass
