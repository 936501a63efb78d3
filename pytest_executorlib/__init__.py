"""pytest plugin for pytest-executorlib (see docs/plugin.md).

The public API (fixtures, markers, options, :data:`API_VERSION`) is listed in :mod:`pytest_executorlib.api`.
The plugin itself is :mod:`pytest_executorlib.plugin`, loaded through the ``pytest11`` entry point.

The names below are loaded lazily: the mock SLURM commands (``pytest_executorlib.mocks.slurm.commands``)
import this package on every ``srun``/``squeue`` call and must not pay for importing pytest.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a command ~10 ms
if TYPE_CHECKING:
    from typing import Any

__all__ = ["API_VERSION", "ExecutorFactory"]


def __getattr__(name: str) -> Any:
    if name == "API_VERSION":
        from pytest_executorlib.api import API_VERSION

        return API_VERSION
    if name == "ExecutorFactory":
        from pytest_executorlib.fixtures import ExecutorFactory

        return ExecutorFactory
    raise AttributeError(f"module 'pytest_executorlib' has no attribute {name!r}")
