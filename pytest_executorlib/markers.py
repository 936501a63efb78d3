"""The markers: ``xlib_backends(*names)``, ``mpi(ranks=N)``, ``slurm``, ``flux``, ``mock_slurm(**shape)``,
``mock_flux(**shape)``.

Each marker turns into a skip with a reason (or, for a misspelt backend name, a usage error) before the test
runs; :data:`MARKERS` is the registration text (``pytest --markers``), so ``--strict-markers`` accepts them.
"""

from __future__ import annotations

import importlib.util

import pytest

from executor.host import mpiexec_path, usable_cores

from pytest_executorlib.backends import BACKENDS, Backend

MARKERS: dict[str, str] = {
    "xlib_backends": "xlib_backends(*names): run the test only on these --xlib-backend values, skip on the others",
    "mpi": "mpi(ranks=1): the test needs MPI (mpi4py and mpiexec) and `ranks` CPU cores; skipped otherwise",
    "slurm": "slurm: the test needs a SLURM backend (--xlib-backend=mock-slurm or slurm); skipped otherwise",
    "flux": "flux: the test needs a flux backend (--xlib-backend=mock-flux or flux); skipped otherwise",
    "mock_slurm": "mock_slurm(nodes=1, cpus_per_node=4, gpus_per_node=0, partitions=None, min_job_age=300, "
    "accounting=False): shape of the cluster the mock_slurm fixture gives this test",
    "mock_flux": "mock_flux(nodes=1, cores_per_node=4, gpus_per_node=0): shape of the instance the mock_flux "
    "fixture gives this test",
}


def register(config: pytest.Config) -> None:
    for text in MARKERS.values():
        config.addinivalue_line("markers", text)


def find_mpiexec() -> str | None:
    """Where executors find ``mpiexec`` (``executor.host``: beside this interpreter, else on PATH)."""
    return mpiexec_path()


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, not the machine's core count)."""
    return usable_cores()


def _mpi_skip_reason(ranks: int, oversubscribe: bool) -> str | None:
    if importlib.util.find_spec("mpi4py") is None:
        return "mpi: mpi4py is not installed"
    if find_mpiexec() is None:
        return "mpi: no mpiexec beside the Python interpreter or on PATH (pip install 'pytest-executorlib[mpi]')"
    cores = available_cores()
    if ranks > cores and not oversubscribe:
        return f"mpi: needs {ranks} ranks but only {cores} CPU cores are available (see --xlib-mpi-oversubscribe)"
    return None


def skip_reason(item: pytest.Item, backend: Backend, oversubscribe: bool) -> str | None:
    """Why ``item`` must be skipped on ``backend``, or None.  A misspelt backend name is a usage error."""
    for mark in item.iter_markers("xlib_backends"):
        names = [str(n) for n in mark.args]
        unknown = [n for n in names if n not in BACKENDS]
        if unknown or not names:
            raise pytest.UsageError(
                f"{item.nodeid}: xlib_backends({', '.join(map(repr, names))}): "
                f"unknown backend(s) {', '.join(map(repr, unknown)) or '(none given)'}; valid: {', '.join(BACKENDS)}"
            )
        if backend.name not in names:
            return f"xlib_backends: runs on {', '.join(names)}, not on --xlib-backend={backend.name}"
    for family in ("slurm", "flux"):
        if item.get_closest_marker(family) is not None and backend.family != family:
            wanted = ", ".join(b.name for b in BACKENDS.values() if b.family == family)
            return f"{family}: needs a {family} backend ({wanted}), not --xlib-backend={backend.name}"
    mpi = item.get_closest_marker("mpi")
    if mpi is not None:
        ranks = mpi.kwargs.get("ranks", mpi.args[0] if mpi.args else 1)
        if not isinstance(ranks, int) or isinstance(ranks, bool) or ranks < 1:
            raise pytest.UsageError(f"{item.nodeid}: mpi(ranks=...) needs a positive integer, got {ranks!r}")
        return _mpi_skip_reason(ranks, oversubscribe)
    return None
