"""``SlurmJobExecutor``: every worker is started by ``srun``, with executorlib's interface.

Layer: frontends.  The same schedulers as ``SingleNodeExecutor`` (one fresh worker per call, or persistent block
workers), with ``executor.spawners.srun`` as the launcher for every worker, one rank or many::

    submit() ─► ResourcePolicy (validates, merges) ─► PerCallScheduler ─► one srun per call
                                                  └─► BlockScheduler   ─► one srun per worker (restarted ≤ restart_limit)

Outside an allocation each srun is a new job; inside one (``SLURM_JOB_ID`` set) a new step of it.  Decided once,
at construction:

* **where workers connect**: to loopback when every node they can land on is this host (``sinfo``'s node list,
  or the allocation's single node), else to this host's name (``hostname_localhost=True`` forces loopback,
  ``False`` the host name).  Every frame is authenticated before it is unpickled either way.
* **how many CPUs calls may hold at once**: ``max_cores``, else ``max_workers``, else the allocation's
  ``SLURM_NTASKS`` x ``SLURM_CPUS_PER_TASK``, else the cluster's CPUs (``sinfo``), else this machine's.
* **block allocation inside an allocation** must fit ``SLURM_NTASKS`` x ``SLURM_CPUS_PER_TASK``: a clear
  ValueError here, not workers that wait forever.

No spare workers are started ahead of calls (unlike the local executor): a spare srun would be a job in the
cluster's queue that nobody asked for.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import cloudpickle

from executor.frontends.arguments import block_workers, check_common, check_queue_timeout, plot_mode
from executor.frontends.base import BaseExecutor
from executor.host import usable_cores
from executor.schedulers.block import BlockScheduler
from executor.schedulers.per_call import PerCallScheduler
from executor.spawners.slurm_cluster import cluster_nodes, find_srun, this_host
from executor.spawners.srun import SrunLaunch, require_mpi4py
from executor.spawners.srun_command import Allocation, Node, all_local, allocation_shortfall, current_allocation
from executor.tasks.resources import Limits, ResourcePolicy


def check_arguments(*, pmi_mode: Any, queue_timeout: Any, **common: Any) -> None:
    """executorlib's constructor checks, plus ours for ``pmi_mode`` and ``queue_timeout``."""
    check_common(**common)
    if pmi_mode is not None and (not isinstance(pmi_mode, str) or not pmi_mode or " " in pmi_mode):
        raise ValueError(f"pmi_mode must be None or the name of an srun MPI plugin (e.g. 'pmi2', 'pmix'), got {pmi_mode!r}")
    check_queue_timeout(queue_timeout)


def workers_are_remote(hostname_localhost: bool | None, allocation: Allocation | None, nodes: Callable[[], list[Node] | None]) -> bool:
    """Whether workers may run on another host (then the executor binds to an address they can reach)."""
    if hostname_localhost is not None:
        return not hostname_localhost
    names, addresses = this_host()
    if allocation is not None and allocation.nodes == 1 and allocation.nodelist.lower() in {n.lower() for n in names}:
        return False
    found = nodes()
    return found is None or not all_local(found, names, addresses)


class SlurmJobExecutor(BaseExecutor):
    """Run Python calls in workers started by ``srun``, with executorlib's interface.

    By default every call gets its own srun (a new job, or a new step inside an allocation); with
    ``block_allocation=True`` ``max_workers`` persistent workers are started, one srun each.  Each
    ``resource_dict`` key becomes the srun option a SLURM user expects (see docs/slurm.md).

    Beyond executorlib's parameters (keyword only): ``worker_coverage`` (as for SingleNodeExecutor) and
    ``queue_timeout`` (seconds an srun may wait for resources before the call fails quoting srun; requests the
    cluster can never grant fail at once).
    """

    def __init__(
        self,
        max_workers: int | None = None,
        cache_directory: str | None = None,
        max_cores: int | None = None,
        resource_dict: dict[str, Any] | None = None,
        pmi_mode: str | None = None,
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
        queue_timeout: float = 3600.0,
    ) -> None:
        check_arguments(
            max_workers=max_workers,
            max_cores=max_cores,
            block_allocation=block_allocation,
            init_function=init_function,
            restart_limit=restart_limit,
            wait=wait,
            pmi_mode=pmi_mode,
            queue_timeout=queue_timeout,
        )
        if not plot_mode(plot_dependency_graph, plot_dependency_graph_filename, export_workflow_filename):
            find_srun()  # no srun: a clear error here, not in every call (in plot mode nothing runs)
        allocation = current_allocation(os.environ)
        nodes = functools.lru_cache(maxsize=1)(cluster_nodes)  # asked at most once, and only if needed
        remote = workers_are_remote(hostname_localhost, allocation, nodes)
        resources = dict(resource_dict or {})
        if openmpi_oversubscribe:
            resources["openmpi_oversubscribe"] = True
        capacity = max_cores or max_workers or (allocation and allocation.cpus) or _cluster_cpus(nodes()) or usable_cores()
        launch = SrunLaunch(remote_workers=remote, coverage=worker_coverage, pmi_mode=pmi_mode, queue_timeout=queue_timeout)
        policy = ResourcePolicy(resources, Limits(type(self).__name__, capacity, block_allocation, launch))
        defaults = policy.defaults
        if block_allocation:
            workers = self._block_workers(max_workers, max_cores, policy.default_cost, allocation)
            if allocation is not None:
                shortfall = allocation_shortfall(allocation, workers, defaults["cores"], defaults["threads_per_core"])
                if shortfall:
                    raise ValueError(shortfall)
            if defaults["cores"] > 1:
                require_mpi4py()
            init_payload = cloudpickle.dumps((init_function, (), {})) if init_function is not None else None
            cwd = defaults.get("cwd")
            worker_resources = {**defaults, "cwd": None if cwd is None else os.path.abspath(cwd)}
            scheduler: Any = BlockScheduler(launch, workers, policy.default_cost, worker_resources, init_payload, restart_limit)
        else:
            workers = capacity
            # No spares: a spare srun would be a job in the cluster's queue that nobody asked for.
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
    def _block_workers(max_workers: int | None, max_cores: int | None, cost: int, allocation: Allocation | None) -> int:
        workers = block_workers(max_workers, max_cores, cost)
        if workers is not None:
            return workers
        if allocation is not None and allocation.cpus:
            return max(1, allocation.cpus // cost)
        raise ValueError(
            "block_allocation=True outside a SLURM allocation needs max_workers or max_cores: each worker is one srun "
            "job, and there is no allocation to size them from"
        )


def _cluster_cpus(nodes: list[Node] | None) -> int | None:
    return sum(node.cpus for node in nodes) or None if nodes else None
