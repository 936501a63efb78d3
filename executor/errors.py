"""Exceptions the executor raises into futures or at the caller's line."""

from __future__ import annotations


class ExecutorlibSocketError(RuntimeError):
    """The worker process running a call died (was killed, crashed or exited) before it returned a result."""


class RunTimeLimitError(TimeoutError):
    """A call ran longer than its ``resource_dict["run_time_max"]``; its worker process (tree) was killed."""

    def __init__(self, fn_name: str, limit: float) -> None:
        super().__init__(f"{fn_name}() was stopped after exceeding its run_time_max of {limit:g} s")
        self.limit = limit


class CallStoppedError(RuntimeError):
    """A running call was stopped before it returned (``executor.api.terminate``: e.g. its test failed or timed
    out); its worker and every process the call started were killed."""


class RemoteError(RuntimeError):
    """An exception raised in a worker that could not travel back as itself: it cannot be pickled, or it cannot
    be re-created from its pickle (e.g. ``class E(Exception): def __init__(self, a, b)``).  It names the
    original type (``type_name``: ``module.qualname``) and carries its message; the worker's traceback is its
    ``__cause__``, as for any exception from a worker."""

    def __init__(self, type_name: str, message: str, reason: str) -> None:
        super().__init__(f"{type_name}: {message} (raised in the worker; it could not be sent back as itself: {reason})")
        self.type_name = type_name
        self.message = message
        self.reason = reason

    def __reduce__(self) -> tuple[type[RemoteError], tuple[str, str, str]]:
        return (type(self), (self.type_name, self.message, self.reason))


class WorkerStartError(ExecutorlibSocketError):
    """Worker processes could not be started, so queued calls cannot run."""


class RemoteTraceback(Exception):
    """Carries the worker-side traceback text; attached as ``__cause__`` of an exception raised in a worker."""

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return self.tb


def install_hint(extra: str) -> str:
    """The command that installs ``extra``, quoted so that it also works in zsh (where ``[...]`` is a glob)."""
    return f"pip install 'pytest-executorlib[{extra}]'"


class FluxUnavailableError(RuntimeError):
    """FluxJobExecutor found no flux instance to submit its workers to; the message quotes flux."""


class MissingExtraError(ImportError):
    """An optional dependency is missing; the message names the extra that installs it."""

    def __init__(self, module: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the Python package {module!r}, which is not installed; "
            f"install it with: {install_hint(extra)}",
            name=module,
        )
        self.extra = extra
