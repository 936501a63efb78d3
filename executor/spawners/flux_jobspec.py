"""flux's Python API as the flux spawner uses it: importing the bindings, connecting to the instance, building a
worker's ``JobspecV1`` from its resources, and reading a job's end.

Layer: spawners.  Only flux's *public* Python API is used (``flux.Flux``, ``flux.job.JobspecV1``,
``flux.resource.list.resource_list``; see docs/flux.md), imported lazily, so the same code runs against the real
bindings inside a flux instance and against the mock flux of ``pytest_executorlib.mocks.flux``.

How ``resource_dict`` becomes a jobspec (``from_command``, or ``from_nest_command`` with nesting)::

    cores            -> num_tasks (num_slots)            threads_per_core -> cores_per_task (cores_per_slot)
    gpus_per_core    -> gpus_per_task (0: no gpu)        num_nodes, exclusive -> passed through
    cwd              -> jobspec.cwd                      run_time_max (one-call workers) -> duration
    pmi_mode         -> shell option "pmi"               log files -> stdout/stderr files
    priority         -> the submission's urgency (0..31, flux's range), not part of the jobspec

flux's own ``ValueError`` messages (e.g. "exclusive can only be set with a node count") are what a user sees,
raised at ``submit()`` because the launch policy builds a jobspec once per distinct request to check it.
"""

from __future__ import annotations

import collections
import importlib
import os
import signal
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from executor.errors import FluxUnavailableError

_TAIL_LINES = 12  # lines of a job's stderr file quoted when it fails (flux_log_files)
URGENCY_RANGE = (0, 31)  # flux's urgency range ("urgency range is [0:31]"); 16 is its default
# The executor's own timer stops a call at run_time_max (counted from when the call starts, and reported as
# RunTimeLimitError); flux's limit counts from job start, so it gets this much more for interpreter start-up and
# only ends the job if this process can no longer do it.
DURATION_ALLOWANCE = 60.0

_HINT = (
    "run inside a flux instance (`flux start python ...`, with the bindings on PYTHONPATH as `flux env` prints), "
    "or inside the mock flux of pytest-executorlib (`eval \"$(xlib mock-env flux)\"; flux start python ...`)"
)


def import_flux() -> ModuleType:
    """``flux`` with ``flux.job`` loaded; an ``ImportError`` saying where the bindings come from."""
    try:
        flux = importlib.import_module("flux")
        importlib.import_module("flux.job")
    except ImportError as error:
        raise ImportError(
            f"FluxJobExecutor needs flux's Python bindings (the 'flux' package of flux-core), which cannot be "
            f"imported ({error}); {_HINT}",
            name="flux",
        ) from error
    if not hasattr(flux, "Flux") or not hasattr(flux.job, "FluxExecutor"):
        where = getattr(flux, "__file__", None) or list(getattr(flux, "__path__", []))
        raise ImportError(
            f"the 'flux' package found at {where} is not flux-framework's bindings (it has no Flux and "
            f"flux.job.FluxExecutor; PyPI's 'flux' and 'flux-core' are other projects); {_HINT}",
            name="flux",
        )
    return flux


def connect(flux: ModuleType) -> Any:
    """A handle on the enclosing instance (``$FLUX_URI``); ``FluxUnavailableError`` quoting flux if none."""
    try:
        return flux.Flux()
    except OSError as error:
        uri = os.environ.get("FLUX_URI")
        where = f"FLUX_URI={uri!r}" if uri else "FLUX_URI is not set"
        raise FluxUnavailableError(f"FluxJobExecutor found no flux instance to run workers in ({where}; flux said: {error}); {_HINT}") from error


def instance_resources(handle: Any) -> Any:
    """The instance's resources that are up (a ResourceSet: ``.ncores``, ``.ngpus``, ``.nodelist``)."""
    resource_list = importlib.import_module("flux.resource.list").resource_list  # flux.job loads flux.resource
    return resource_list(handle).get().up


def instance_cores(resources: Any) -> int:
    """Cores of the instance that are up (what flux can ever allocate at once)."""
    return int(resources.ncores)


def instance_hosts(resources: Any) -> list[str]:
    """Host names of the instance's nodes that are up."""
    return [str(host) for host in resources.nodelist]


def build_jobspec(
    flux: ModuleType,
    command: list[str],
    resources: Mapping[str, Any],
    *,
    nesting: bool = False,
    pmi_mode: str | None = None,
    one_call: bool = False,
    environment: Mapping[str, str] | None = None,
    cwd: str | None = None,
    log_prefix: str | None = None,
) -> Any:
    """The ``JobspecV1`` of one worker; flux's own ``ValueError``/``TypeError`` if it rejects the request.

    ``log_prefix``: write the job's stdout and stderr to ``<log_prefix>.out`` / ``.err`` (``flux_log_files``);
    without it flux keeps the output in the job's eventlog (``flux job attach <id>`` shows it).
    """
    ranks = int(resources.get("cores") or 1)
    threads = int(resources.get("threads_per_core") or 1)
    gpus = int(resources.get("gpus_per_core") or 0)
    shape: dict[str, Any] = {"num_nodes": resources.get("num_nodes"), "exclusive": bool(resources.get("exclusive"))}
    if nesting:
        jobspec = flux.job.JobspecV1.from_nest_command(
            command=command, num_slots=ranks, cores_per_slot=threads, gpus_per_slot=gpus or None, **shape
        )
    else:
        jobspec = flux.job.JobspecV1.from_command(
            command=command, num_tasks=ranks, cores_per_task=threads, gpus_per_task=gpus or None, **shape
        )
    if pmi_mode is not None:
        jobspec.setattr_shell_option("pmi", pmi_mode)
    if environment is not None:
        jobspec.environment = dict(environment)
    if cwd is not None:
        jobspec.cwd = cwd
    limit = resources.get("run_time_max")
    if one_call and limit:
        jobspec.duration = float(limit) + DURATION_ALLOWANCE
    if log_prefix is not None:
        jobspec.stdout = log_prefix + ".out"
        jobspec.stderr = log_prefix + ".err"
    return jobspec


def urgency_problem(priority: Any) -> str | None:
    """Why ``priority`` cannot be a flux urgency (``None`` if it can)."""
    low, high = URGENCY_RANGE
    if priority is not None and not low <= priority <= high:
        return (
            f"resource_dict['priority']={priority} cannot be a flux urgency: flux accepts {low}..{high} "
            f"(default 16; above 16 only for the instance owner)"
        )
    return None


def exit_code(status: int | None, result: int | None) -> int | None:
    """A worker's return code, negative when a signal ended it.

    ``status`` is the wait status of flux's ``finish`` event, ``result`` what the job's future returned (the
    highest task exit code).  flux's job shell reports a task killed by signal N as exit code 128 + N, as a
    shell does; that is reported as -N, like a local process killed by N.
    """
    if status is not None:
        if os.WIFSIGNALED(status):
            return -os.WTERMSIG(status)
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    else:
        code = result
    if code is not None and code > 128:
        try:
            return -int(signal.Signals(code - 128))
        except ValueError:
            pass
    return code


def file_tail(path: str) -> str | None:
    """The last lines of a job's output file (``None`` if it is missing or empty)."""
    try:
        with open(path, errors="replace") as file:
            lines = collections.deque(file, maxlen=_TAIL_LINES)
    except OSError:
        return None
    return "".join(lines).strip() or None
