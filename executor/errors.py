"""Exceptions the executor raises into futures or at the caller's line."""

from __future__ import annotations


class ExecutorlibSocketError(RuntimeError):
    """The worker process running a call died (was killed, crashed or exited) before it returned a result."""


class RunTimeLimitError(TimeoutError):
    """A call ran longer than its ``resource_dict["run_time_max"]``; its worker process (tree) was killed."""

    def __init__(self, fn_name: str, limit: float) -> None:
        super().__init__(f"{fn_name}() was stopped after exceeding its run_time_max of {limit:g} s")
        self.limit = limit


class WorkerStartError(ExecutorlibSocketError):
    """Worker processes could not be started, so queued calls cannot run."""


class RemoteTraceback(Exception):
    """Carries the worker-side traceback text; attached as ``__cause__`` of an exception raised in a worker."""

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return self.tb


class FluxUnavailableError(RuntimeError):
    """FluxJobExecutor found no flux instance to submit its workers to; the message quotes flux."""


class MissingExtraError(ImportError):
    """An optional dependency is missing; the message names the extra that installs it."""

    def __init__(self, module: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the Python package {module!r}, which is not installed; "
            f"install it with: pip install 'pytest-executorlib[{extra}]'",
            name=module,
        )
        self.extra = extra
