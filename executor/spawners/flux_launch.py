"""The launch policy of ``FluxJobExecutor``: which requests flux can take, and one ``FluxSpawner`` for all workers.

Layer: spawners.  What a call may ask for is checked in the caller's thread at ``submit()`` (see
``LaunchPolicy.unsupported``): the keys flux has no use for (``openmpi_oversubscribe``, ``slurm_cmd_args``), a
``priority`` outside flux's urgency range, mpi4py for ``cores > 1``, and the request's shape, by building its
jobspec once, so flux's own words (``exclusive can only be set with a node count``...) reach the user at the line
that asked.  flux assigns GPUs itself (``gpus_per_task``), so this policy hands out no devices.  A request
larger than the instance is refused by the front end's capacity check; one that only flux's scheduler can judge
(GPUs, nodes) fails its call quoting flux's ``unsatisfiable request`` exception.
"""

from __future__ import annotations

import functools
import importlib.util
import socket
from collections.abc import Mapping
from typing import Any

from executor.errors import MissingExtraError
from executor.spawners.base import Spawner
from executor.spawners.environment import worker_environment
from executor.spawners.flux import QUEUE_TIMEOUT, FluxSpawner
from executor.spawners.flux_jobspec import build_jobspec, import_flux, urgency_problem

_NAME = "FluxJobExecutor"


@functools.lru_cache(maxsize=1)
def require_mpi4py() -> None:
    if importlib.util.find_spec("mpi4py") is None:
        raise MissingExtraError("mpi4py", "mpi", "a call with cores > 1 (an MPI program)")


def all_this_host(hosts: list[str]) -> bool:
    """Whether every one of ``hosts`` (the instance's node names) is this machine."""
    name = socket.gethostname()
    mine = {name.lower(), name.split(".")[0].lower(), "localhost"}
    return bool(hosts) and all(host.lower() in mine or host.split(".")[0].lower() in mine for host in hosts)


class FluxLaunch:
    """Every worker, one rank or many, is a flux job submitted by the same ``FluxSpawner``."""

    assigns_gpus = True  # the jobspec's gpus_per_task: flux picks the devices
    frees_on_exit = False  # a one-call worker's slots free at its result, as the flux tests measured

    def __init__(
        self,
        *,
        remote_workers: bool,
        hostname_localhost: bool,
        block_allocation: bool,
        pmi_mode: str | None = None,
        flux_executor: Any = None,
        nesting: bool = False,
        log_files: bool = False,
        queue_timeout: float = QUEUE_TIMEOUT,
        coverage: bool | None = None,
    ) -> None:
        self.remote_workers = remote_workers
        self.hostname_localhost = hostname_localhost
        self._block = block_allocation
        self._flux = import_flux()
        self._spawner_options: dict[str, Any] = {
            "coverage": coverage,
            "flux_executor": flux_executor,
            "nesting": nesting,
            "log_files": log_files,
            "pmi_mode": pmi_mode,
            "queue_timeout": queue_timeout,
        }
        self._nesting = nesting
        self._spawner: FluxSpawner | None = None
        self._checked: dict[tuple[Any, ...], str | None] = {}

    def unsupported(self, resources: Mapping[str, Any]) -> str | None:
        if resources.get("openmpi_oversubscribe"):
            return f"openmpi_oversubscribe=True is not supported by {_NAME}: flux's job shell places the ranks"
        if resources.get("slurm_cmd_args"):
            return f"slurm_cmd_args are passed to srun: use SlurmJobExecutor or SlurmClusterExecutor, not {_NAME}"
        if not self._block:  # with block allocation a call's priority only orders the calls (any int)
            problem = urgency_problem(resources.get("priority"))
            if problem:
                return problem
        if (resources.get("cores") or 1) > 1 and not self._nesting:
            require_mpi4py()  # ImportError naming the 'mpi' extra, raised at submit()
        shape = tuple(resources.get(k) for k in ("cores", "threads_per_core", "gpus_per_core", "num_nodes", "exclusive"))
        if shape not in self._checked:
            try:
                build_jobspec(self._flux, ["true"], resources, nesting=self._nesting)
                self._checked[shape] = None
            except (ValueError, TypeError) as error:
                self._checked[shape] = (
                    f"flux cannot build a job for cores={shape[0]}, threads_per_core={shape[1]}, gpus_per_core={shape[2]}, "
                    f"num_nodes={shape[3]}, exclusive={shape[4]}: {error}"
                )
        return self._checked[shape]

    def environment(self, resources: Mapping[str, Any], devices: list[str]) -> dict[str, str]:
        return worker_environment(resources)

    def devices(self) -> list[str]:
        return []  # flux assigns GPUs to each job (gpus_per_task)

    def spawner(self, resources: Mapping[str, Any], address: str, key: bytes) -> Spawner:
        if self._spawner is None:
            self._spawner = FluxSpawner(address, key, **self._spawner_options)
        return self._spawner
