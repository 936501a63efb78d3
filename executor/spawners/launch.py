"""Launch policies: per backend, which resources it honours, the workers' environment and devices, and which
spawner starts a worker.

Layer: spawners.  The front end picks one policy when it is built (``LocalLaunch`` for ``SingleNodeExecutor``;
srun and flux front ends bring their own) and hands it to the resource checks (``tasks.resources``) and the
scheduler; nothing below the front end calls back up into it.

``LocalLaunch``: one-rank workers are forked from the fork server, MPI workers (``cores > 1``) are started by
mpiexec; thread counts go into the usual variables; GPUs are handed out through ``CUDA_VISIBLE_DEVICES`` from the
devices this process may use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from executor.spawners import gpus
from executor.spawners.base import Spawner
from executor.spawners.environment import worker_environment
from executor.spawners.local import ForkServerSpawner


class LaunchPolicy(Protocol):
    """What a scheduler and the resource checks need to know about a backend."""

    remote_workers: bool  # workers may run on other hosts: the channel binds to an address they can reach
    hostname_localhost: bool  # ... unless this asks for loopback anyway (executorlib's hostname_localhost)
    assigns_gpus: bool  # the launcher hands out GPUs itself (srun --gpus-per-task): the scheduler counts none
    frees_on_exit: bool  # a call's slots free when its worker has exited, not at its result (SLURM gives a job's
    # CPUs back only when the job ends: an srun started earlier would wait in the queue for them)

    def unsupported(self, resources: Mapping[str, Any]) -> str | None:
        """Why this backend cannot honour ``resources`` (validated, merged), else ``None``; may raise
        ``ImportError`` naming the extra a resource needs."""
        ...

    def environment(self, resources: Mapping[str, Any], devices: list[str]) -> dict[str, str]:
        """Variables a worker with ``resources`` and the given GPU ``devices`` gets on top of the caller's."""
        ...

    def devices(self) -> list[str]:
        """GPUs the scheduler hands out, one set per running worker (empty: the launcher assigns them)."""
        ...

    def spawner(self, resources: Mapping[str, Any], address: str, key: bytes) -> Spawner:
        """The spawner that starts a worker with ``resources`` (the same object for the same kind of worker)."""
        ...


class LocalLaunch:
    """This machine: fork server for one rank, mpiexec for more."""

    remote_workers = False
    hostname_localhost = True
    assigns_gpus = False
    frees_on_exit = False

    def __init__(self, executor_name: str = "SingleNodeExecutor", coverage: bool | None = None) -> None:
        self._name = executor_name
        self._coverage = coverage
        self._devices: list[str] | None = None
        self._fork: Spawner | None = None
        self._mpi: Spawner | None = None

    def devices(self) -> list[str]:
        if self._devices is None:  # looked up once, and only when a call asks for GPUs
            self._devices = gpus.visible_devices()
        return self._devices

    def prepare(self) -> None:
        """Start the fork server's template now, before the channel exists: its start-up (an interpreter and
        the worker's imports, ~25 ms) then overlaps with the caller's own work and the channel's pyzmq import.
        ``spawner()`` hands it its address later."""
        if self._fork is None:
            self._fork = ForkServerSpawner(coverage=self._coverage)

    def close(self) -> None:
        """Stop a template started by ``prepare()`` even if no pool took it (closing twice is harmless)."""
        if self._fork is not None:
            self._fork.close()

    def unsupported(self, resources: Mapping[str, Any]) -> str | None:
        if resources.get("cores", 1) > 1:
            from executor.spawners import mpiexec  # only MPI calls pay for importing the launcher machinery

            mpiexec.require_mpi()  # ImportError naming the 'mpi' extra, raised at submit()
        message = local_unsupported(resources, self._name)
        if message is None and gpus.needed(resources) > len(self.devices()):
            devices = self.devices()
            return (
                f"the call asks for {gpus.needed(resources)} GPU(s) (cores x gpus_per_core) but this machine offers "
                f"{len(devices)}: {devices or 'none'} (from CUDA_VISIBLE_DEVICES, else nvidia-smi)"
            )
        return message

    def environment(self, resources: Mapping[str, Any], devices: list[str]) -> dict[str, str]:
        env = worker_environment(resources)
        return {**env, **gpus.environment(devices)} if devices else env

    def spawner_class(self, resources: Mapping[str, Any]) -> type:
        """The class ``spawner(resources, ...)`` returns (executorlib's ``info["spawner"]``), starting nothing."""
        if int(resources.get("cores") or 1) == 1:
            return ForkServerSpawner
        from executor.spawners import mpiexec

        return mpiexec.MpiExecSpawner

    def spawner(self, resources: Mapping[str, Any], address: str, key: bytes) -> Spawner:
        if int(resources.get("cores") or 1) == 1:
            if self._fork is None:
                self._fork = ForkServerSpawner(address, key, coverage=self._coverage)
            else:
                self._fork.configure(address, key)  # started early by prepare(): now it learns where to connect
            return self._fork
        if self._mpi is None:
            from executor.spawners import mpiexec

            self._mpi = mpiexec.MpiExecSpawner(address, key, coverage=self._coverage)
        return self._mpi


_MULTI_NODE = "SlurmJobExecutor, SlurmClusterExecutor, FluxJobExecutor or FluxClusterExecutor"


def local_unsupported(resources: Mapping[str, Any], executor_name: str = "SingleNodeExecutor") -> str | None:
    """Why a machine-local executor cannot honour ``resources`` (``None`` if it can)."""
    if (resources.get("num_nodes") or 1) > 1:
        return (
            f"num_nodes={resources['num_nodes']} needs several compute nodes; {executor_name} runs on this machine "
            f"only: use {_MULTI_NODE}"
        )
    if resources.get("exclusive"):
        return f"exclusive=True reserves whole compute nodes, which {executor_name} cannot do: use {_MULTI_NODE}"
    if resources.get("slurm_cmd_args"):
        return f"slurm_cmd_args are passed to srun: use SlurmJobExecutor or SlurmClusterExecutor, not {executor_name}"
    return None
