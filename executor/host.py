"""Facts about this host that the executor, ``python -m executor doctor`` and the pytest plugin must agree on.

Layer: standalone (imports nothing from ``executor``), so every layer above may use it and the plugin can import
it without loading the executor.  One place for each fact, so that, e.g., ``doctor`` reports workers as
measured exactly when the executor measures them.
"""

from __future__ import annotations

import functools
import os
import sys

COVERAGE_OPT_OUT_VARIABLE = "XLIB_WORKER_COVERAGE"
# Values of XLIB_WORKER_COVERAGE (case and surrounding blanks ignored) that switch worker coverage off.
COVERAGE_OFF_VALUES = frozenset({"0", "false", "no", "off"})


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask, which batch systems set), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def mpiexec_path() -> str | None:
    """The ``mpiexec`` executors use: beside this interpreter (the ``mpich`` wheel in a virtual environment that
    is not activated), else on ``PATH``; ``None`` if there is none."""
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.access(beside, os.X_OK):
        return beside
    import shutil  # here: it imports the compression modules, which an executor's start need not pay for

    return shutil.which("mpiexec")


@functools.lru_cache(maxsize=1)
def mpiexec_flavour(path: str) -> str:
    """``"openmpi"`` or ``"mpich"``: Open MPI installs ``ompi_info`` beside its mpiexec (asking ``mpiexec
    --version`` would cost ~30 ms per process)."""
    return "openmpi" if os.path.exists(os.path.join(os.path.dirname(os.path.realpath(path)), "ompi_info")) else "mpich"


def coverage_opted_out(value: str | None = None) -> bool:
    """Whether ``XLIB_WORKER_COVERAGE`` (``value``, else the environment's) switches worker coverage off."""
    if value is None:
        value = os.environ.get(COVERAGE_OPT_OUT_VARIABLE, "")
    return value.strip().lower() in COVERAGE_OFF_VALUES
