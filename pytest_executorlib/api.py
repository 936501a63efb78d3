"""The public, versioned API of the pytest plugin, listed in one place.

Downstream test suites may rely on exactly what is listed here (fixture names, scopes and types; marker
signatures; option names).  Anything else in ``pytest_executorlib`` is internal.  A change to a listed item
that can break a downstream suite bumps the major part of :data:`API_VERSION`; an addition bumps the minor part.
"""

from __future__ import annotations

from typing import Final

from pytest_executorlib.backends import BACKENDS, IMPLEMENTATIONS
from pytest_executorlib.fixtures import ExecutorFactory
from pytest_executorlib.markers import MARKERS
from pytest_executorlib.options import SETTINGS

API_VERSION: Final = "1.2"  # 1.1: --xlib-graph; 1.2: mock_slurm fixture and marker, the MockSlurm control API

#: fixture name -> (scope, type, what the test gets)
FIXTURES: Final[dict[str, tuple[str, str, str]]] = {
    "executor": (
        "function",
        "concurrent.futures.Executor",
        "an executor of the selected backend caching into xlib_cache_dir, shut down at teardown; "
        "a test leaving unfinished futures errors at teardown naming them",
    ),
    "executor_factory": (
        "function",
        "ExecutorFactory",
        "callable(**kwargs) building executors of the selected backend (cache_directory defaults to "
        "xlib_cache_dir); all shut down at teardown",
    ),
    "xlib_backend": ("session", "str", "name of the selected backend, e.g. 'local'"),
    "xlib_cache_dir": ("function", "pathlib.Path", "a fresh cache directory, removed after the test"),
    "mock_slurm": (
        "function",
        "pytest_executorlib.mocks.slurm.MockSlurm",
        "a fresh mock SLURM cluster (shaped by the mock_slurm marker) on PATH during the test, with its "
        "control API: jobs(), job(), calls(), wait(), hold_new_jobs(), hold(), release(), fault(), fault_next()",
    ),
}

#: The mock SLURM's public Python API (``from pytest_executorlib.mocks.slurm import MockSlurm``): method -> summary.
MOCK_SLURM_API: Final[dict[str, str]] = {
    "MockSlurm(root, nodes=1, cpus_per_node=4, gpus_per_node=0, partitions=None, min_job_age=300, accounting=False)":
        "context manager: creates the cluster in root, starts its controller, stops every job at exit",
    "env": "dict: PATH with the shim directory first, XLIB_MOCK_SLURM_ROOT",
    "environ(base=None)": "os.environ (or base) without outer SLURM_*/PMI_* variables, with env applied",
    "activate() / deactivate()": "apply env to os.environ until the context exits / undo",
    "jobs() / job(id)": "the job table (Job records: id, name, kind, state, reason, exit_code, signal, ...)",
    "calls(command=None)": "the call log: Call(command, argv, cwd, job, time) for every mock command run",
    "wait(id, timeout=60, until=None)": "block until the job ended (or until(job)); TimeoutError otherwise",
    "hold_new_jobs(hold=True) / hold(id) / release(id=None)": "keep jobs PENDING (JobHeldUser) until released",
    "fault(id, kind, value=None) / fault_next(kind, value=None, command='any')":
        "inject exit, nodefail, timeout, preempt, no_output (and reject for the next sbatch/srun)",
}

#: marker name -> registration text (signature: description)
PUBLIC_MARKERS: Final = MARKERS

#: command line option -> (environment variable, ini key, default)
OPTIONS: Final[dict[str, tuple[str, str, str | bool]]] = {s.flag: (s.env, s.ini, s.default) for s in SETTINGS}

#: valid --xlib-backend and --xlib-impl values
BACKEND_NAMES: Final = tuple(BACKENDS)
IMPLEMENTATION_NAMES: Final = tuple(IMPLEMENTATIONS)

__all__ = [
    "API_VERSION",
    "MOCK_SLURM_API",
    "BACKEND_NAMES",
    "FIXTURES",
    "IMPLEMENTATION_NAMES",
    "OPTIONS",
    "PUBLIC_MARKERS",
    "ExecutorFactory",
]
