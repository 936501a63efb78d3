"""A reference implementation of executorlib's public interface.

Names are loaded lazily (PEP 562) so that worker processes, which import ``executor.worker``, do not pay for
the front-end modules they never use.

Layers, top to bottom; a module imports only from its own layer and those below (checked by
``tests/executor/test_executor_layers.py``)::

    cli, api, this package      entry points
    frontends                   executors: validate parameters, pick one launch policy and one scheduler
    schedulers                  loop (thread, timers, LoopPolicy), pool (workers behind the channel),
                                results (futures, error log, cache store), per_call / block policies
    spawners                    launch policies (launch.py), fork server, LaunchedSpawner (mpiexec, srun ...)
    worker                      code that runs inside worker processes
    channel, coverage, tasks,   wire format and sockets, coverage of workers, call records and resources,
    cache                       the HDF5 cache
    host, errors, telemetry     facts and exceptions every layer shares
"""

from __future__ import annotations

import importlib

from executor._version import __version__

_EXPORTS: dict[str, str] = {
    "BaseExecutor": "executor.frontends.base",
    "SingleNodeExecutor": "executor.frontends.single_node",
    "SlurmJobExecutor": "executor.frontends.slurm_job",
    "SlurmClusterExecutor": "executor.frontends.slurm_cluster",
    "FluxJobExecutor": "executor.frontends.flux_job",
    "FluxClusterExecutor": "executor.frontends.flux_cluster",
    "get_cache_data": "executor.cache.api",
    "get_future_from_cache": "executor.cache.api",
    "terminate_tasks_in_cache": "executor.cache.api",
    "terminate_task_in_cache": "executor.cache.api",
    "get_item_from_future": "executor.tasks.selectors",
    "split_future": "executor.tasks.selectors",
}

__all__ = sorted([*_EXPORTS, "__version__"])

TYPE_CHECKING = False  # not ``typing.TYPE_CHECKING``: workers import this package and typing costs ~2 ms
if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from executor.frontends.base import BaseExecutor as BaseExecutor
    from executor.frontends.flux_job import FluxJobExecutor as FluxJobExecutor
    from executor.frontends.single_node import SingleNodeExecutor as SingleNodeExecutor
    from executor.frontends.slurm_job import SlurmJobExecutor as SlurmJobExecutor
    from executor.tasks.selectors import get_item_from_future as get_item_from_future
    from executor.tasks.selectors import split_future as split_future


class NotAvailableError(ImportError):
    """A name of executorlib's interface whose implementation this version does not have yet (an ImportError, so
    ``from executor import SlurmJobExecutor`` fails at the user's line with this message)."""


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'executor' has no attribute {name!r}")
    try:
        imported = importlib.import_module(module)
    except ModuleNotFoundError as missing:
        if missing.name != module:
            raise  # a dependency of that module is missing: its own message says which
        raise NotAvailableError(
            f"executor.{name} is part of executorlib's interface but not implemented in pytest-executorlib "
            f"{__version__} yet; SingleNodeExecutor is (or use executorlib.{name})"
        ) from None
    value = getattr(imported, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
