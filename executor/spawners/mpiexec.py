"""MPI workers: ``mpiexec -n N python ...``, one MPI job per worker (a ``LaunchedSpawner``).

Layer: spawners.  Rank 0 connects to the executor; the other ranks receive each call from it over MPI (see
``executor.worker.mpi``).  A one-rank job runs the plain launched worker and does not need mpi4py.
"""

from __future__ import annotations

import functools
import importlib.util
import os

from executor.errors import MissingExtraError
from executor.host import mpiexec_flavour, mpiexec_path
from executor.spawners.base import WorkerSpec
from executor.spawners.launched import LaunchedSpawner, worker_command
from executor.worker.mpi_config import CONFIG_VARIABLE


@functools.lru_cache(maxsize=1)
def find_mpiexec() -> tuple[str, str]:
    """``(path, flavour)`` of the mpiexec next to this interpreter (the ``mpich`` wheel), else on PATH."""
    path = mpiexec_path()
    if path is None:
        raise MissingExtraError("mpiexec", "mpi", "a call with cores > 1 (an MPI program)")
    return path, mpiexec_flavour(path)


@functools.lru_cache(maxsize=1)
def require_mpi() -> None:
    """Raise ``ImportError`` naming the ``mpi`` extra if mpi4py or mpiexec is missing (checked once)."""
    if importlib.util.find_spec("mpi4py") is None:
        raise MissingExtraError("mpi4py", "mpi", "a call with cores > 1 (an MPI program)")
    find_mpiexec()


def command(ranks: int, oversubscribe: bool, forward: list[str] | None = None) -> tuple[list[str], dict[str, str]]:
    """The mpiexec command line (ending in the worker program) and the variables it needs; ``forward`` names
    variables every rank must get (MPICH passes the whole environment; Open MPI only what ``-x`` names)."""
    path, flavour = find_mpiexec()
    args = [path, "-n", str(ranks)]
    env: dict[str, str] = {}
    if flavour == "openmpi":
        for name in [CONFIG_VARIABLE, *(forward or [])]:
            args += ["-x", name]
        if oversubscribe:
            args.append("--oversubscribe")
        if os.geteuid() == 0:  # Open MPI refuses to run as root without both of these
            env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return [*args, *worker_command(ranks)], env


class MpiExecSpawner(LaunchedSpawner):
    name = "mpiexec"

    def command(self, spec: WorkerSpec) -> tuple[list[str], dict[str, str]]:
        return command(spec.ranks, spec.oversubscribe, forward=list(self.coverage_env))
