"""``SingleNodeExecutor``: run calls in worker processes on this machine.

Layer: frontends (the top).  It validates its parameters, picks the launch policy once (``LocalLaunch``: fork
server for one rank, mpiexec for MPI calls) and a scheduler (one process per call, or block allocation).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

from executor.frontends.arguments import block_workers, check_common, executorlib_info
from executor.frontends.base import BaseExecutor
from executor.host import usable_cores
from executor.spawners import gpus
from executor.spawners.launch import LocalLaunch
from executor.tasks.resources import Limits, ResourcePolicy


def default_hostname_localhost(hostname_localhost: bool | None) -> bool:
    """As documented by executorlib: connect through ``localhost`` by default on macOS, whose firewall blocks
    connections to the machine's own host name."""
    return sys.platform == "darwin" if hostname_localhost is None else bool(hostname_localhost)


def _dumps_init(init_function: Callable[[], dict[str, Any]]) -> bytes:
    import cloudpickle  # here: importing it costs ~15 ms, which a fresh process need not pay before its first call

    return cloudpickle.dumps((init_function, (), {}))


class SingleNodeExecutor(BaseExecutor):
    """Run Python calls in separate processes on this machine, with executorlib's interface.

    By default every call runs in a fresh worker process (forked from a pre-imported template, so a call costs
    a few milliseconds, not an interpreter start).  With ``block_allocation=True`` ``max_workers`` persistent
    workers run the calls.  Worker processes connect to the executor over loopback and every message is
    authenticated with a per-executor secret before anything is unpickled.

    Beyond executorlib's parameters: ``worker_coverage`` (``None``: measure workers with coverage whenever this
    process is measured, unless ``XLIB_WORKER_COVERAGE=0``; ``False``: never; ``True``: whenever this process
    is measured, ignoring the environment variable).
    """

    def __init__(
        self,
        max_workers: int | None = None,
        cache_directory: str | None = None,
        max_cores: int | None = None,
        resource_dict: dict[str, Any] | None = None,
        hostname_localhost: bool | None = None,
        block_allocation: bool = False,
        init_function: Callable[[], dict[str, Any]] | None = None,
        disable_dependencies: bool = False,
        refresh_rate: float = 0.01,
        plot_dependency_graph: bool = False,
        plot_dependency_graph_filename: str | None = None,
        export_workflow_filename: str | None = None,
        log_obj_size: bool = False,
        wait: bool = True,
        restart_limit: int = 0,
        openmpi_oversubscribe: bool = False,
        worker_coverage: bool | None = None,
    ) -> None:
        check_common(
            max_workers=max_workers,
            max_cores=max_cores,
            block_allocation=block_allocation,
            init_function=init_function,
            restart_limit=restart_limit,
            wait=wait,
        )
        if init_function is not None and cache_directory is not None:
            warnings.warn(
                "init_function and cache_directory together: the cache key does not include the state the "
                "init_function sets up, so cached results may be stale",
                stacklevel=2,
            )
        hostname_localhost = default_hostname_localhost(hostname_localhost)
        resources = dict(resource_dict or {})
        if openmpi_oversubscribe:
            resources["openmpi_oversubscribe"] = True
        launch = LocalLaunch(type(self).__name__, coverage=worker_coverage)
        if block_allocation:
            # As executorlib: max_workers workers, each with the executor's resource_dict (max_workers=2 with
            # cores=2 runs two 2-rank workers); else max_cores // cores per worker; else what the CPUs allow.
            # No core budget per call: a call cannot change its worker's cores.
            policy = ResourcePolicy(resources, Limits(type(self).__name__, None, True, launch))
            per_worker_cost = policy.default_cost
            workers = block_workers(max_workers, max_cores, per_worker_cost) or max(1, usable_cores() // per_worker_cost)
            init_payload = _dumps_init(init_function) if init_function is not None else None
            per_worker = gpus.needed(policy.defaults)
            devices = launch.devices() if per_worker else []
            if per_worker and workers * per_worker > len(devices):
                raise ValueError(
                    f"{workers} workers x {per_worker} GPU(s) each need {workers * per_worker} GPUs, but this machine "
                    f"offers {len(devices)}: {devices or 'none'}"
                )
            worker_resources = {**policy.defaults, "cwd": self._absolute(policy.defaults.get("cwd"))}
            settings: dict[str, Any] = {
                "init_function": init_function,
                "queue_join_on_shutdown": False,
                "restart_limit": restart_limit,
                "max_workers": workers,
            }
        else:
            # One process per call: max_cores (else max_workers, else the CPUs) is the budget of cores in use.
            capacity = max_cores or max_workers or usable_cores()
            policy = ResourcePolicy(resources, Limits(type(self).__name__, capacity, False, launch))
            settings = {"max_cores": max_cores, "max_workers": max_workers}
        # Everything is checked: start the fork server's template now, so that its start-up overlaps with the
        # rest (the scheduler thread imports pyzmq and binds the channel, the caller submits).
        if not (block_allocation and int(policy.defaults.get("cores") or 1) > 1):
            launch.prepare()  # (block workers of several ranks are MPI jobs: they never use the fork server)
        try:
            from executor.schedulers.block import BlockScheduler
            from executor.schedulers.per_call import PerCallScheduler

            if block_allocation:
                scheduler: Any = BlockScheduler(launch, workers, policy.default_cost, worker_resources, init_payload, restart_limit)
            else:
                scheduler = PerCallScheduler(launch, capacity, policy.defaults)
        except BaseException:
            launch.close()
            raise
        info = executorlib_info(
            policy.defaults,
            cache_directory=cache_directory,
            hostname_localhost=hostname_localhost,
            log_obj_size=log_obj_size,
            spawner=launch.spawner_class(policy.defaults),
            **settings,
        )
        super().__init__(
            scheduler,
            policy,
            disable_dependencies=disable_dependencies,
            info=info,
            cache_directory=cache_directory,
            plot_dependency_graph=plot_dependency_graph,
            plot_dependency_graph_filename=plot_dependency_graph_filename,
            export_workflow_filename=export_workflow_filename,
            block_allocation=block_allocation,
        )

    @staticmethod
    def _absolute(path: str | None) -> str | None:
        return None if path is None else os.path.abspath(path)
