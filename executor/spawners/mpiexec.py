"""MPI workers: ``mpiexec -n N python ...``, one MPI job per worker (a ``LaunchedSpawner``).

Layer: spawners.  Rank 0 connects to the executor; the other ranks receive each call from it over MPI (see
``executor.worker.mpi``).  A one-rank job runs the plain launched worker and does not need mpi4py.

Nothing of a local MPI job listens beyond loopback (with MPICH; measured on the ``mpich`` wheel, MPICH 5.0):

- Hydra (``mpiexec``) binds its control port to all interfaces whatever ``-iface``/``-localhost`` say, and its
  proxy and every rank inherit that socket.  MPICH's other process manager, ``mpiexec.gforker`` (same wheel,
  same directory), forks the ranks itself and talks PMI over inherited socket pairs: no listening socket.  It
  is used whenever it is there (one host is all a local job needs).
- The ranks' network module (UCX, or libfabric with ``MPIR_CVAR_CH4_NETMOD=ofi``) listens on every interface
  for peers on other hosts.  ``UCX_TLS=self,sm`` and ``FI_PROVIDER=shm`` keep it to shared memory, which is all
  ranks on one host use; a value the user has set wins.
- Open MPI: its ``mpiexec`` and ranks listen as Open MPI decides (not tuned here; not shipped as a wheel).
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


# Ranks on one host need no network: their MPI talks through shared memory only, so they listen on no port.
SHARED_MEMORY_ONLY = {"UCX_TLS": "self,sm", "FI_PROVIDER": "shm"}


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
    env: dict[str, str] = {}
    if flavour == "mpich":
        gforker = os.path.join(os.path.dirname(path), "mpiexec.gforker")
        if os.access(gforker, os.X_OK):
            path = gforker
        env.update({name: value for name, value in SHARED_MEMORY_ONLY.items() if name not in os.environ})
    args = [path, "-n", str(ranks)]
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
    key_in_file = True  # every rank runs on this host

    def command(self, spec: WorkerSpec) -> tuple[list[str], dict[str, str]]:
        return command(spec.ranks, spec.oversubscribe, forward=list(self.coverage_env))
