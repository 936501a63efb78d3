"""What ``srun`` is told and what it says: pure functions, no process is started here.

Layer: spawners (imports nothing from ``schedulers`` or ``frontends``).  Three concerns, each a few functions:

* **resources -> srun options** (``srun_options``).  Every ``resource_dict`` key becomes the option a SLURM user
  expects, in executorlib's order so command lines can be compared::

      srun -n <cores> [-D <cwd>] [--mpi=<pmi_mode>] [-N <num_nodes>] --cpus-per-task=<threads_per_core>
           [--gpus-per-task=<gpus_per_core>] [--exclusive] [--oversubscribe] [--time=<minutes>]
           [--nice=<-priority>] [slurm_cmd_args...]

  Where this differs from executorlib (``exclusive`` -> ``--exclusive`` not ``--exact``; ``--time`` only for a
  worker that runs one call; ``priority`` < 0 -> ``--nice``) docs/slurm.md says why.
* **the allocation we run in** (``current_allocation``, ``allocation_shortfall``): ``SLURM_JOB_ID`` set means
  every srun is a new step of that job; block allocation checks ``SLURM_NTASKS`` x ``SLURM_CPUS_PER_TASK``.
* **srun's stderr** (``classify``, ``is_slurm_line``): which lines say the request waits, can never be granted,
  or was granted, and which lines are SLURM's own (quoted in errors) rather than the task's output.
* **where workers run** (``parse_nodes``, ``all_local``): from ``sinfo``'s node list, whether every node is this
  host (then the executor binds to loopback).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# ---- resources -> options ------------------------------------------------------------------------------------


def time_limit_minutes(run_time_max: float) -> int:
    """``--time`` in whole minutes for ``run_time_max`` seconds, as executorlib computes it (``// 60 + 1``):
    always above the limit, so the executor's own timer (exact, in seconds) fires first and SLURM's is a backstop."""
    return int(run_time_max // 60) + 1


def srun_options(resources: Mapping[str, Any], *, pmi_mode: str | None = None, one_call: bool = True) -> list[str]:
    """srun's options (without ``srun`` and the worker command) for a worker with these validated resources.

    ``one_call``: the worker runs a single call (one srun per call), so ``run_time_max`` becomes the job's
    ``--time``; a block-allocation worker serves many calls and its lifetime must not be limited by one call's.
    """
    options = ["-n", str(int(resources.get("cores") or 1))]
    cwd = resources.get("cwd")
    if cwd is not None:
        options += ["-D", str(cwd)]
    if pmi_mode is not None:
        options.append(f"--mpi={pmi_mode}")
    if resources.get("num_nodes") is not None:
        options += ["-N", str(int(resources["num_nodes"]))]
    options.append(f"--cpus-per-task={int(resources.get('threads_per_core') or 1)}")
    gpus = int(resources.get("gpus_per_core") or 0)
    if gpus > 0:
        options.append(f"--gpus-per-task={gpus}")
    if resources.get("exclusive"):
        options.append("--exclusive")
    if resources.get("openmpi_oversubscribe"):
        options.append("--oversubscribe")
    if one_call and resources.get("run_time_max"):
        options.append(f"--time={time_limit_minutes(resources['run_time_max'])}")
    priority = int(resources.get("priority") or 0)
    if one_call and priority < 0:  # users may lower their job's priority, raising it needs operator rights
        options.append(f"--nice={-priority}")
    options += [str(arg) for arg in resources.get("slurm_cmd_args") or ()]
    return options


# ---- the allocation ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Allocation:
    """The SLURM job this process runs in (``salloc``, ``sbatch`` or an ``srun`` step)."""

    job_id: str
    ntasks: int | None  # SLURM_NTASKS (unset with e.g. ``salloc -N 1``)
    cpus_per_task: int  # SLURM_CPUS_PER_TASK, 1 when unset (SLURM sets it only with -c)
    nodes: int  # SLURM_JOB_NUM_NODES
    nodelist: str  # SLURM_JOB_NODELIST, compressed (``n[1-3]``)

    @property
    def cpus(self) -> int | None:
        """CPUs the allocation's tasks may use: ``SLURM_NTASKS`` x ``SLURM_CPUS_PER_TASK``, if known."""
        return None if self.ntasks is None else self.ntasks * self.cpus_per_task


def _int_or(value: str | None, default: int | None) -> int | None:
    try:
        return int(value) if value else default
    except ValueError:
        return default


def current_allocation(environ: Mapping[str, str]) -> Allocation | None:
    """The allocation ``environ`` is inside (``SLURM_JOB_ID`` set), else ``None``: then every srun is a new job."""
    job_id = environ.get("SLURM_JOB_ID") or environ.get("SLURM_JOBID")
    if not job_id:
        return None
    return Allocation(
        job_id=job_id,
        ntasks=_int_or(environ.get("SLURM_NTASKS") or environ.get("SLURM_NPROCS"), None),
        cpus_per_task=_int_or(environ.get("SLURM_CPUS_PER_TASK"), 1) or 1,
        nodes=_int_or(environ.get("SLURM_JOB_NUM_NODES") or environ.get("SLURM_NNODES"), 1) or 1,
        nodelist=environ.get("SLURM_JOB_NODELIST") or environ.get("SLURM_NODELIST") or "",
    )


def allocation_shortfall(allocation: Allocation, workers: int, cores: int, threads_per_core: int) -> str | None:
    """Why ``workers`` block workers of ``cores`` x ``threads_per_core`` CPUs do not fit ``allocation`` (or None)."""
    available = allocation.cpus
    need = workers * cores * threads_per_core
    if available is None or need <= available:
        return None
    return (
        f"block allocation needs max_workers={workers} x cores={cores} x threads_per_core={threads_per_core} = {need} "
        f"CPUs, but this SLURM allocation (job {allocation.job_id}) has SLURM_NTASKS={allocation.ntasks} x "
        f"SLURM_CPUS_PER_TASK={allocation.cpus_per_task} = {available}; ask for fewer workers or cores per worker "
        f"(at most {available // max(1, cores * threads_per_core)} workers fit), or for a larger allocation "
        f"(e.g. salloc -n {need})"
    )


# ---- srun's stderr ----------------------------------------------------------------------------------------------

QUEUED = "queued"  # waits for resources (may be granted later, or never: see NEVER)
NEVER = "never"  # the request can never be granted by this cluster's configuration
GRANTED = "granted"  # resources allocated after a wait
STEP_WAIT = "step-wait"  # inside an allocation: the step waits for CPUs other steps hold
OTHER = "other"

# SLURM 22.05's own words (observed, see the notes in docs/slurm.md).  "Requested partition configuration not
# available now" is printed when no node of the partition can ever hold the request (more CPUs than a node has,
# more nodes than the partition); a merely busy cluster prints only "queued and waiting for resources".
_PATTERNS = (
    (NEVER, re.compile(r"Requested partition configuration not available now")),
    (QUEUED, re.compile(r"job (\d+) queued and waiting for resources")),
    (GRANTED, re.compile(r"job (\d+) has been allocated resources|Step created for job (\d+)")),
    (STEP_WAIT, re.compile(r"step creation temporarily disabled|Requested nodes are busy")),
)
_JOB_ID = re.compile(r"\b(?:job|Job allocation|StepId=|STEP) ?(\d+)")
_SLURM_LINE = re.compile(r"^(srun|slurmstepd(-[^:]*)?|srun\(\d+\)):|\*\*\* (STEP|JOB) \d+")


def classify(line: str) -> str:
    """What one line of srun's stderr says about the request: QUEUED, NEVER, GRANTED, STEP_WAIT or OTHER."""
    if not is_slurm_line(line):
        return OTHER
    for kind, pattern in _PATTERNS:
        if pattern.search(line):
            return kind
    return OTHER


def job_id_in(line: str) -> str | None:
    """The job id a line of SLURM's output names (``srun: job 42 queued ...``), if any."""
    match = _JOB_ID.search(line) if is_slurm_line(line) else None
    return match.group(1) if match else None


def is_slurm_line(line: str) -> bool:
    """True for srun's and slurmstepd's own lines (quoted in errors), False for the task's output."""
    return bool(_SLURM_LINE.search(line.strip()))


def quote(lines: Iterable[str]) -> str:
    """SLURM's lines joined for an error message: ``srun: error: ... | srun: error: ...``."""
    return " | ".join(line.strip() for line in lines if line.strip())


def task_signal(returncode: int, lines: Iterable[str]) -> int:
    """srun reports a task killed by signal n as exit code 128 + n ("srun: error: <node>: task 0: Killed"): the
    worker was killed by that signal, reported as -n like a local process.  A task that itself exited with such
    a code ("Exited with exit code 137") keeps it."""
    if 128 < returncode < 128 + 65 and any(_TASK_SIGNALLED.search(line) for line in lines):
        return -(returncode - 128)
    return returncode


_TASK_SIGNALLED = re.compile(r"task \d+: (?!Exited with exit code)")


# ---- where workers run ------------------------------------------------------------------------------------------

SINFO_FORMAT = "%N|%n|%o|%c"  # node name | its host name | its address | CPUs


@dataclass(frozen=True)
class Node:
    name: str
    hostname: str
    address: str
    cpus: int


def parse_nodes(output: str) -> list[Node]:
    """Nodes from ``sinfo --noheader --Node --format=%N|%n|%o|%c`` (a node in two partitions is listed once)."""
    nodes: dict[str, Node] = {}
    for line in output.splitlines():
        fields = [f.strip() for f in line.split("|")]
        if len(fields) != 4 or not fields[0]:
            raise ValueError(f"unexpected sinfo line {line!r} (expected 'name|hostname|address|cpus')")
        name, hostname, address, cpus = fields
        nodes.setdefault(name, Node(name, hostname, address, int(cpus) if cpus.isdigit() else 0))
    return list(nodes.values())


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def all_local(nodes: Iterable[Node], host_names: Iterable[str], host_addresses: Iterable[str]) -> bool:
    """Whether every node is this host: its address is loopback or one of ours, or its host name is ours.  An
    empty node list is not "local" (we know nothing)."""
    names = {n.lower() for n in host_names if n}
    addresses = set(host_addresses)
    nodes = list(nodes)
    if not nodes:
        return False
    return all(
        is_loopback(node.address) or node.address in addresses or node.hostname.lower() in names or node.address.lower() in names
        for node in nodes
    )
