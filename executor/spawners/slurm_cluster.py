"""What the SLURM installation says: where ``srun`` is, which nodes ``sinfo`` lists, who this host is, ``scancel``.

Layer: spawners.  Each function asks SLURM (or the OS) once, bounded by a timeout; the answers are parsed by the
pure functions of ``srun_command``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess

from executor.spawners.srun_command import SINFO_FORMAT, Node, parse_nodes

_SCANCEL_TIMEOUT = 10.0
_SINFO_TIMEOUT = 10.0  # a SLURM controller that does not answer within this is treated as "nodes unknown"


def find_srun() -> str:
    """The path of ``srun`` on PATH; a clear error if there is none."""
    path = shutil.which("srun")
    if path is None:
        raise FileNotFoundError(
            "SlurmJobExecutor starts every worker with srun, which is not on PATH; run on a SLURM cluster (or inside "
            "an allocation), use SingleNodeExecutor, or a mock SLURM (pytest --xlib-backend=mock-slurm)"
        )
    return path


def cancel_jobs_of(srun_pid: int, job_id: str | None = None) -> None:
    """Cancel the job an srun started, after that srun was SIGKILLed: its allocation would otherwise stay (a pending
    job forever; a running one, observed on 22.05, holds its CPUs with no step left).  The job is the one srun
    printed, or the one whose ``AllocSID`` is srun's pid (srun runs in a session of its own) on this host.
    Bounded; a failure leaves SLURM's own clean-up."""
    jobs = {job_id} if job_id else set()
    squeue, scancel = shutil.which("squeue"), shutil.which("scancel")
    if squeue is not None:
        host = socket.gethostname().split(".")[0]
        try:
            listed = subprocess.run(
                [squeue, "--me", "--noheader", "--Format=JobID:|,AllocSID:|,AllocNodes:|"],
                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=_SCANCEL_TIMEOUT, check=False,
            )  # fmt: skip
            for line in listed.stdout.splitlines():
                fields = [f.strip() for f in line.split("|")]
                if len(fields) >= 3 and fields[1] == str(srun_pid) and fields[2].split(".")[0] == host:
                    jobs.add(fields[0])
        except (OSError, subprocess.TimeoutExpired):
            pass
    if not jobs or scancel is None:
        return
    try:
        subprocess.run([scancel, *sorted(jobs)], stdin=subprocess.DEVNULL, capture_output=True, timeout=_SCANCEL_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        pass


_nodes_cache: dict[tuple[str | None, ...], list[Node]] = {}


def cluster_nodes() -> list[Node] | None:
    """The cluster's nodes from ``sinfo`` (bounded), or ``None`` if SLURM did not answer in a form we read.

    Remembered per cluster (``PATH`` and ``SLURM_CONF`` name it) for the life of the process: a test suite
    builds many executors, and a cluster's node list does not change under it.  A failure is not remembered.
    """
    cluster = (os.environ.get("PATH"), os.environ.get("SLURM_CONF"))
    known = _nodes_cache.get(cluster)
    if known is not None:
        return known
    sinfo = shutil.which("sinfo")
    if sinfo is None:
        return None
    try:
        out = subprocess.run(
            [sinfo, "--noheader", "--Node", f"--format={SINFO_FORMAT}"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_SINFO_TIMEOUT,
            check=False,
        )
        nodes = parse_nodes(out.stdout) if out.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    if nodes:
        _nodes_cache[cluster] = nodes
    return nodes


def this_host() -> tuple[list[str], list[str]]:
    """``(names, addresses)`` of this host, to recognise it in a node list."""
    name = socket.gethostname()
    names = [name, name.split(".")[0]]
    try:
        addresses = socket.gethostbyname_ex(name)[2]
    except OSError:
        addresses = []
    return names, addresses
