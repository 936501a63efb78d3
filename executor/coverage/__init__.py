"""Coverage of worker processes: workers measure coverage whenever the process that started them is measured.

::

    parent (measured by ``coverage run``, pytest-cov, or coverage's own subprocess patch)
      │  parent.measure_workers(): Coverage.current().config.serialize() + parallel, sigterm, _exit
      │
      ├─ "config" message on the fork server's pipe ──► template: imports coverage, checks the config once,
      │                                                  never starts it (it runs no user code)
      │                                                    └─ fork ─► worker: worker.start() before the loop;
      │                                                               saves on exit, SIGTERM and os._exit
      └─ XLIB_COVERAGE_CONFIG in the environment ─────► exec'd launchers (mpiexec, srun, flux):
                                                          worker.start_from_environment() at rank start-up

Workers write parallel data files (``.coverage.<host>.pid<pid>.<random>``) next to the parent's data file,
whatever their working directory; whoever combines the parent's data (pytest-cov, ``coverage combine``)
counts them.  A parent that writes a single data file (``coverage run`` without ``-p``) gets its workers'
data folded into it when the executor closes, so ``coverage report`` counts it directly.  When the parent
is not measured, nothing here imports coverage, and the template and workers never hear of it.

The parts:

* ``parent``: decide whether workers are measured (``worker_coverage=`` keyword, ``XLIB_WORKER_COVERAGE``),
  build the *spec* they get — one string, the same on the pipe and in the environment — and fold their data
  into a non-parallel parent's at close;
* ``worker``: start coverage in a worker (forked, or exec'd by a launcher) from a spec, and never fail it.
"""

from __future__ import annotations

import importlib

_EXPORTS: dict[str, str] = {
    "CONFIG_VARIABLE": "executor.coverage.parent",
    "OPT_OUT_VARIABLE": "executor.coverage.parent",
    "WorkerCoverageWarning": "executor.coverage.parent",
    "launcher_environment": "executor.coverage.parent",
    "WorkerMeasurement": "executor.coverage.parent",
    "measure_workers": "executor.coverage.parent",
    "start_from_environment": "executor.coverage.worker",
}

__all__ = sorted(_EXPORTS)

TYPE_CHECKING = False  # not ``typing.TYPE_CHECKING``: workers may import this package and typing costs ~2 ms
if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from executor.coverage.parent import CONFIG_VARIABLE as CONFIG_VARIABLE
    from executor.coverage.parent import OPT_OUT_VARIABLE as OPT_OUT_VARIABLE
    from executor.coverage.parent import WorkerCoverageWarning as WorkerCoverageWarning
    from executor.coverage.parent import launcher_environment as launcher_environment
    from executor.coverage.parent import WorkerMeasurement as WorkerMeasurement
    from executor.coverage.parent import measure_workers as measure_workers
    from executor.coverage.worker import start_from_environment as start_from_environment


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
