"""``FluxJobExecutor``: every worker is a flux job in the enclosing flux instance, with executorlib's interface.

Layer: frontends.  The same schedulers as ``SingleNodeExecutor``, with ``FluxLaunch`` (``spawners/flux_launch.py``)
as the launch policy: each worker, one rank or many, is one job submitted through ``flux.job.FluxExecutor``::

    submit() ─► ResourcePolicy (validates, merges; FluxLaunch checks the request with flux's JobspecV1)
            ─► PerCallScheduler ─► one flux job per call
            └► BlockScheduler   ─► one flux job per worker (restarted up to restart_limit)

Decided once, at construction, from the instance (``$FLUX_URI``; none: a clear error here):

* **how many cores calls may hold at once**: ``max_cores``, else ``max_workers``, else the instance's cores that
  are up; a call asking for more fails at ``submit()``.
* **block allocation** must fit the instance (as executorlib checks): ``max_workers x cores x threads_per_core``.
* **where workers connect**: loopback when every node of the instance is this host, else this host's name
  (``hostname_localhost=True`` forces loopback, ``False`` the host name); every frame is authenticated either way.

No spare workers are started ahead of calls (unlike the local executor): a spare would be a job holding cores of
the instance that a call with more ranks may need.  The imports of flux happen here, not at ``import executor``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import cloudpickle

from executor.frontends.arguments import block_workers, check_common, check_queue_timeout
from executor.frontends.base import BaseExecutor
from executor.schedulers.block import BlockScheduler
from executor.schedulers.per_call import PerCallScheduler
from executor.spawners.flux import QUEUE_TIMEOUT
from executor.spawners.flux_jobspec import connect, import_flux, instance_cores, instance_hosts, instance_resources, urgency_problem
from executor.spawners.flux_launch import FluxLaunch, all_this_host
from executor.tasks.resources import Limits, ResourcePolicy

PMI_MODES = ("pmix", "pmi1", "pmi2")  # executorlib's accepted values (check_pmi)


def check_arguments(*, pmi_mode: Any, openmpi_oversubscribe: bool, queue_timeout: Any, flux_executor: Any, **common: Any) -> None:
    """executorlib's constructor checks, plus ours for ``queue_timeout`` and ``flux_executor``."""
    check_common(**common)
    if pmi_mode is not None and pmi_mode not in PMI_MODES:
        raise ValueError(f"pmi_mode must be None or one of {', '.join(PMI_MODES)} (flux's shell option pmi=), got {pmi_mode!r}")
    if openmpi_oversubscribe:
        raise ValueError("openmpi_oversubscribe=True is not supported by FluxJobExecutor: flux's job shell places the ranks")
    check_queue_timeout(queue_timeout)
    if flux_executor is not None and not callable(getattr(flux_executor, "submit", None)):
        raise TypeError(f"flux_executor must be a flux.job.FluxExecutor (or None: the executor makes one), got {flux_executor!r}")


class FluxJobExecutor(BaseExecutor):
    """Run Python calls in workers that are flux jobs, with executorlib's interface.

    By default every call is its own flux job; with ``block_allocation=True`` ``max_workers`` persistent workers
    are started, one job each.  ``resource_dict`` keys become the job's resources (see docs/flux.md):
    ``cores`` tasks of ``threads_per_core`` cores each, ``gpus_per_core`` GPUs per task, ``num_nodes``,
    ``exclusive``, ``cwd``, ``priority`` (flux urgency 0..31), ``run_time_max``.

    executorlib's flux parameters: ``pmi_mode`` (flux shell option ``pmi``: "pmix", "pmi1" or "pmi2"),
    ``flux_executor`` (a ``flux.job.FluxExecutor`` to submit through; left running at shutdown),
    ``flux_executor_nesting`` (each worker is the initial program of a nested flux instance of ``cores`` slots,
    so the function runs once and may submit flux jobs itself), ``flux_log_files`` (the jobs' output goes to
    ``flux_<worker id>.out`` / ``.err`` in the worker's ``cwd``, else the current directory).

    Beyond executorlib's parameters (keyword only): ``worker_coverage`` (as for SingleNodeExecutor) and
    ``queue_timeout`` (seconds a worker's job may wait for flux to start it before its call fails).
    """

    def __init__(
        self,
        max_workers: int | None = None,
        cache_directory: str | None = None,
        max_cores: int | None = None,
        resource_dict: dict[str, Any] | None = None,
        pmi_mode: str | None = None,
        flux_executor: Any = None,
        flux_executor_nesting: bool = False,
        flux_log_files: bool = False,
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
        *,
        worker_coverage: bool | None = None,
        queue_timeout: float = QUEUE_TIMEOUT,
    ) -> None:
        check_arguments(
            max_workers=max_workers,
            max_cores=max_cores,
            block_allocation=block_allocation,
            init_function=init_function,
            restart_limit=restart_limit,
            wait=wait,
            pmi_mode=pmi_mode,
            openmpi_oversubscribe=openmpi_oversubscribe,
            queue_timeout=queue_timeout,
            flux_executor=flux_executor,
        )
        flux = import_flux()
        handle = connect(flux)  # no instance: FluxUnavailableError here, quoting flux
        try:
            up = instance_resources(handle)
            cores, local = instance_cores(up), all_this_host(instance_hosts(up))
        finally:
            close = getattr(handle, "close", None)
            if close is not None:
                close()
        remote = not hostname_localhost if hostname_localhost is not None else not local
        launch = FluxLaunch(
            remote_workers=remote,
            hostname_localhost=bool(hostname_localhost),
            block_allocation=block_allocation,
            pmi_mode=pmi_mode,
            flux_executor=flux_executor,
            nesting=flux_executor_nesting,
            log_files=flux_log_files,
            queue_timeout=queue_timeout,
            coverage=worker_coverage,
        )
        capacity = max_cores or max_workers or cores
        policy = ResourcePolicy(dict(resource_dict or {}), Limits(type(self).__name__, capacity, block_allocation, launch))
        defaults = policy.defaults
        problem = urgency_problem(defaults.get("priority"))  # the workers' urgency, also with block allocation
        if problem:
            raise ValueError(problem)
        if block_allocation:
            workers = self._block_workers(max_workers, max_cores, policy.default_cost, cores)
            init_payload = cloudpickle.dumps((init_function, (), {})) if init_function is not None else None
            cwd = defaults.get("cwd")
            worker_resources = {**defaults, "cwd": None if cwd is None else os.path.abspath(cwd)}
            scheduler: Any = BlockScheduler(launch, workers, policy.default_cost, worker_resources, init_payload, restart_limit)
        else:
            workers = capacity
            scheduler = PerCallScheduler(launch, capacity, defaults, spares=0)
        info = {
            "max_workers": workers,
            "max_cores": max_cores,
            "cache_directory": cache_directory,
            "hostname_localhost": hostname_localhost,
            "block_allocation": block_allocation,
            "restart_limit": restart_limit,
            "log_obj_size": log_obj_size,
            "refresh_rate": refresh_rate,
            "pmi_mode": pmi_mode,
            "flux_executor_nesting": flux_executor_nesting,
            "flux_log_files": flux_log_files,
            **defaults,
        }
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
    def _block_workers(max_workers: int | None, max_cores: int | None, cost: int, instance: int) -> int:
        workers = block_workers(max_workers, max_cores, cost) or max(1, instance // cost)
        if workers * cost > instance:
            raise ValueError(
                f"block_allocation=True with {workers} workers x {cost} cores (cores x threads_per_core) needs "
                f"{workers * cost} cores, but the flux instance has {instance} cores up: the last workers would wait "
                "for cores forever (ask for fewer workers or cores)"
            )
        return workers
