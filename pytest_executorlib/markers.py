"""The markers: ``xlib_backends(*names)``, ``mpi(ranks=N)``, ``slurm``, ``flux``, ``mock_slurm(**shape)``,
``mock_flux(**shape)``.

Each marker turns into a skip with a reason (or, for a misspelt backend name, a usage error) before the test
runs; :data:`MARKERS` is the registration text (``pytest --markers``), so ``--strict-markers`` accepts them.

Living next to pytest-mpi (common on HPC machines), which also has an ``mpi`` marker but means "this pytest runs
under ``mpirun``" and skips every ``mpi`` test without ``--with-mpi``: the two are told apart by their
arguments.  An ``mpi`` mark with ``ranks`` (keyword or positional; pytest-mpi takes neither) is ours, a bare
``mpi`` or ``mpi(min_size=N)`` is pytest-mpi's.  When pytest-mpi is loaded we do not register ``mpi`` a second
time, and :func:`undo_pytest_mpi_skip` removes the skip pytest-mpi put on our tests (the plugin calls it from a
``pytest_collection_modifyitems`` wrapper, i.e. after pytest-mpi's own hook).
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


#: pytest-mpi's plugin name (its ``pytest11`` entry point).
PYTEST_MPI = "pytest_mpi"


def pytest_mpi_loaded(config: pytest.Config) -> bool:
    """True when pytest-mpi is active in this run (installed and not disabled with ``-p no:pytest_mpi``)."""
    return config.pluginmanager.hasplugin(PYTEST_MPI)


def register(config: pytest.Config) -> None:
    shared = pytest_mpi_loaded(config)
    for name, text in MARKERS.items():
        if name == "mpi" and shared:
            continue  # pytest-mpi registers `mpi` itself: one registration, no duplicate in `pytest --markers`
        config.addinivalue_line("markers", text)


def is_ours(mark: pytest.Mark, pytest_mpi: bool) -> bool:
    """Whether an ``mpi`` mark belongs to this plugin: always without pytest-mpi, else only with ``ranks``."""
    return not pytest_mpi or "ranks" in mark.kwargs or bool(mark.args)


def own_mpi_mark(item: pytest.Item, pytest_mpi: bool) -> pytest.Mark | None:
    """The test's ``mpi(ranks=N)`` mark if it is ours (see the module docstring), else None."""
    mark = item.get_closest_marker("mpi")
    return mark if mark is not None and is_ours(mark, pytest_mpi) else None


def uses_markers(item: pytest.Item, pytest_mpi: bool) -> bool:
    """True if the test carries one of this plugin's markers."""
    if own_mpi_mark(item, pytest_mpi) is not None:
        return True
    return any(item.get_closest_marker(name) is not None for name in MARKERS if name != "mpi")


def _is_pytest_mpi_skip(mark: pytest.Mark) -> bool:
    return mark.name == "skip" and "--with-mpi" in str(mark.kwargs.get("reason", ""))


def undo_pytest_mpi_skip(item: pytest.Item) -> None:
    """Remove the "need --with-mpi option to run" skip pytest-mpi adds to a test whose ``mpi`` mark is ours."""
    if own_mpi_mark(item, pytest_mpi=True) is not None:
        item.own_markers[:] = [mark for mark in item.own_markers if not _is_pytest_mpi_skip(mark)]


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


def skip_reason(item: pytest.Item, backend: Backend, oversubscribe: bool, pytest_mpi: bool = False) -> str | None:
    """Why ``item`` must be skipped on ``backend``, or None.  A misspelt backend name is a usage error.

    ``pytest_mpi``: pytest-mpi is loaded, so a bare ``mpi`` mark is its, not ours.
    """
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
    mpi = own_mpi_mark(item, pytest_mpi)
    if mpi is not None:
        ranks = mpi.kwargs.get("ranks", mpi.args[0] if mpi.args else 1)
        if not isinstance(ranks, int) or isinstance(ranks, bool) or ranks < 1:
            raise pytest.UsageError(f"{item.nodeid}: mpi(ranks=...) needs a positive integer, got {ranks!r}")
        return _mpi_skip_reason(ranks, oversubscribe)
    return None
