"""The public, versioned API of the pytest plugin, listed in one place.

Downstream test suites may rely on exactly what is listed here (fixture names, scopes and types; marker
signatures; option names).  Anything else in ``pytest_executorlib`` is internal.  A change to a listed item
that can break a downstream suite bumps the major part of :data:`API_VERSION`; an addition bumps the minor part.
The documentation site renders its fixture, marker and option tables from this module
(``docs/hooks/api_tables.py``), so a change here is a change of the documentation too.
"""

from __future__ import annotations

from typing import Final

from pytest_executorlib.backends import BACKENDS, IMPLEMENTATIONS
from pytest_executorlib.fixtures import ExecutorFactory
from pytest_executorlib.markers import MARKERS
from pytest_executorlib.options import SETTINGS

API_VERSION: Final = "1.3"  # 1.1: --xlib-graph; 1.2: mock_slurm fixture and marker, the MockSlurm control API;
# 1.3: mock_flux fixture and marker, the MockFlux control API, the mock flux package and command

#: fixture name -> (scope, type, what the test gets)
FIXTURES: Final[dict[str, tuple[str, str, str]]] = {
    "executor": (
        "function",
        "concurrent.futures.Executor",
        "an executor of the selected backend caching into xlib_cache_dir (if h5py is installed), shut down at "
        "teardown; "
        "a test leaving unfinished futures errors at teardown naming them; after a failed or interrupted "
        "test its running calls are stopped, not waited for",
    ),
    "executor_factory": (
        "function",
        "ExecutorFactory",
        "callable(**kwargs) building executors of the selected backend (cache_directory defaults to "
        "xlib_cache_dir if h5py is installed); all shut down at teardown (running calls stopped after a failed "
        "test)",
    ),
    "xlib_backend": ("session", "str", "name of the selected backend, e.g. 'local'"),
    "xlib_cache_dir": ("function", "pathlib.Path", "a fresh cache directory, removed after the test"),
    "mock_slurm": (
        "function",
        "pytest_executorlib.mocks.slurm.MockSlurm",
        "a fresh mock SLURM cluster (shaped by the mock_slurm marker) on PATH during the test, with its "
        "control API: jobs(), job(), calls(), wait(), hold_new_jobs(), hold(), release(), fault(), fault_next()",
    ),
    "mock_flux": (
        "function",
        "pytest_executorlib.mocks.flux.MockFlux",
        "a fresh mock flux instance (shaped by the mock_flux marker) active during the test (PATH, PYTHONPATH, "
        "FLUX_URI), with the same control API as mock_slurm",
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

#: The mock flux's public Python API (``from pytest_executorlib.mocks.flux import MockFlux``): method -> summary.
MOCK_FLUX_API: Final[dict[str, str]] = {
    "MockFlux(root, nodes=1, cores_per_node=4, gpus_per_node=0)":
        "context manager: creates the instance in root, starts its broker, cancels every job at exit",
    "env / uri": "dict: PATH (the flux shim first), PYTHONPATH (the mock flux package), FLUX_URI; the URI",
    "environ(base=None)": "os.environ (or base) with env applied: a program started with it is inside the instance",
    "activate() / deactivate()": "apply env to os.environ (and the package to sys.path) until the context exits / undo",
    "jobs() / job(id)": "the job table (Job records: id, name, state, result, urgency, ntasks, exception, events...)",
    "calls(subcommand=None)": "the call log: Call(command, argv, cwd, job, time) for every flux command run inside",
    "wait(id, timeout=60, until=None)": "block until the job is INACTIVE (or until(job)); TimeoutError otherwise",
    "hold_new_jobs(hold=True) / hold(id) / release(id=None)": "keep jobs held (urgency 0, S held) until released",
    "fault(id, kind, value=None) / fault_next(kind, value=None)":
        "inject exit, nodefail, timeout, no_output (and reject for the next submission)",
    "flux package": "flux.Flux, flux.job (FluxExecutor, JobspecV1, JobID, submit, result, wait, cancel, kill, "
                    "event_watch, event_wait, job_raise), flux.job.event.JobException, flux.resource.list.resource_list",
    "flux command": "flux start|broker|run|submit|batch|jobs|cancel|job id|resource list|getattr",
    "xlib mock-env flux [--nodes N] [--cores-per-node N] [--gpus-per-node N]":
        "export lines (PATH, PYTHONPATH, XLIB_MOCK_FLUX_SHAPE): then `flux start CMD` runs CMD in an instance",
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
    "MOCK_FLUX_API",
    "MOCK_SLURM_API",
    "BACKEND_NAMES",
    "FIXTURES",
    "IMPLEMENTATION_NAMES",
    "OPTIONS",
    "PUBLIC_MARKERS",
    "ExecutorFactory",
]
