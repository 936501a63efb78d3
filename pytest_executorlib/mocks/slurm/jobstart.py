"""What a starting job sees: its environment variables, its output file names, SLURM's stop messages.

:func:`task_environment` is the environment of one ``srun`` task (and, with ``step=None``, of a batch script);
it reproduces real SLURM 22.05's variables (see docs/slurm.md): ``SLURM_JOB_ID``/``SLURM_JOBID``,
``SLURM_STEP_ID``, ``SLURM_PROCID``, ``SLURM_LOCALID``, ``SLURM_NODEID``, ``SLURM_NTASKS``/``SLURM_NPROCS``,
``SLURM_CPUS_PER_TASK`` (only with ``-c``), ``SLURM_JOB_NODELIST``, ``SLURMD_NODENAME``, ``PMI_*`` ...
"""

from __future__ import annotations

import os
import socket
import time
TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a command ~10 ms
if TYPE_CHECKING:
    from typing import Any

from pytest_executorlib.mocks.slurm import common, db


def tasks_per_node(counts: list[int]) -> str:
    """SLURM's ``2(x3),1`` notation."""
    out: list[str] = []
    i = 0
    while i < len(counts):
        j = i
        while j + 1 < len(counts) and counts[j + 1] == counts[i]:
            j += 1
        out.append(str(counts[i]) if j == i else f"{counts[i]}(x{j - i + 1})")
        i = j + 1
    return ",".join(out)


def job_environment(job: dict[str, Any]) -> dict[str, str]:
    """Variables common to a batch script and the tasks of a job (job-level)."""
    alloc = common.decode_alloc(job["alloc"])
    names = [a[0] for a in alloc]
    env = {
        "SLURM_JOB_ID": str(job["id"]), "SLURM_JOBID": str(job["id"]),
        "SLURM_JOB_NAME": job["name"], "SLURM_JOB_PARTITION": job["partition"],
        "SLURM_JOB_NODELIST": job["nodelist"], "SLURM_NODELIST": job["nodelist"],
        "SLURM_JOB_NUM_NODES": str(len(alloc)), "SLURM_NNODES": str(len(alloc)),
        "SLURM_JOB_CPUS_PER_NODE": tasks_per_node([a[1] for a in alloc]),
        "SLURM_CLUSTER_NAME": common.CLUSTER_NAME, "SLURM_JOB_USER": common.user(),
        "SLURM_JOB_UID": str(os.getuid()), "SLURM_JOB_GID": str(os.getgid()),
        "SLURM_SUBMIT_HOST": socket.gethostname(), "SLURM_SUBMIT_DIR": job["submit_dir"],
        "SLURM_TASKS_PER_NODE": tasks_per_node([a[3] for a in alloc]),
        "SLURM_JOB_ACCOUNT": "",
        "SLURM_TOPOLOGY_ADDR": names[0] if names else "", "SLURM_TOPOLOGY_ADDR_PATTERN": "node",
    }
    if job["time_limit"] is not None:
        env["SLURM_JOB_END_TIME"] = str(int(job["start_time"] + job["time_limit"]))
    del env["SLURM_JOB_ACCOUNT"]
    if job["cpt_given"]:
        env["SLURM_CPUS_PER_TASK"] = str(job["cpus_per_task"])
    return env


def load_job(conn: Any, job_id: int) -> dict[str, Any]:
    cols = ("id", "name", "partition", "nodelist", "alloc", "ntasks", "cpus_per_task", "cpt_given", "time_limit",
            "start_time", "workdir", "env", "stdout", "stderr", "kind", "state", "fault", "gpus", "command")
    row = conn.execute(f"SELECT {', '.join(cols)} FROM jobs WHERE id=?", (job_id,)).fetchone()
    job = dict(zip(cols, row))
    env = dict(e.split("=", 1) for e in db.unpack(job["env"]) if "=" in e)
    job["env"] = env
    job["submit_dir"] = env.pop("_XLIB_SUBMIT_DIR", job["workdir"])
    job["ntasks_given"] = env.pop("_XLIB_NTASKS_GIVEN", "1") == "1"
    return job


def batch_environment(conn: Any, job_id: int) -> dict[str, str]:
    """The environment of a batch script: the submitter's (exported) plus the job-level SLURM variables."""
    job = load_job(conn, job_id)
    env = dict(job["env"])
    env.update(job_environment(job))
    first = common.decode_alloc(job["alloc"])[0]
    env.update({
        "SLURM_NODEID": "0", "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_GTIDS": "0",
        "SLURMD_NODENAME": first[0], "SLURM_CPUS_ON_NODE": str(first[1]), "ENVIRONMENT": "BATCH",
        "SLURM_NODE_ALIASES": "(null)", "SLURM_PRIO_PROCESS": "0",
        "SLURM_WORKING_CLUSTER": f"{common.CLUSTER_NAME}:127.0.0.1:6817:9728:109",
        "SLURM_JOB_NAME": job["name"],
    })
    if job["ntasks_given"]:
        env["SLURM_NTASKS"] = env["SLURM_NPROCS"] = str(job["ntasks"])
    if first[2]:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in range(first[2]))
    return env


def expand_path(pattern: str, job_id: int, name: str, node: str, workdir: str) -> str:
    """``--output`` / ``--error`` patterns (``%j %J %x %u %N %A %a %%``), relative to the job's workdir."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "%" and i + 1 < len(pattern):
            code = pattern[i + 1]
            sub = {"j": str(job_id), "J": str(job_id), "x": name, "u": common.user(), "N": node,
                   "A": str(job_id), "a": "4294967294", "%": "%", "n": "0", "t": "0", "s": "batch"}.get(code)
            if sub is not None:
                out.append(sub)
                i += 2
                continue
        out.append(c)
        i += 1
    return os.path.join(workdir, "".join(out))


def write_stop_message(conn: Any, job_id: int, why: str) -> None:
    """Append ``slurmstepd-n1: error: *** JOB N ON n1 CANCELLED AT <t> [why] ***`` to a batch job's error file."""
    row = conn.execute("SELECT workdir, stdout, stderr, name, alloc FROM jobs WHERE id=?", (job_id,)).fetchone()
    if row is None or not row[4]:
        return
    node = row[4].split(":")[0]
    workdir = row[0] if os.path.isdir(row[0]) else "/tmp"
    path = expand_path(row[2] or row[1], job_id, row[3], node, workdir)
    suffix = f" {why}" if why else ""
    try:
        with open(path, "a") as fh:
            fh.write(f"slurmstepd-{node}: error: *** JOB {job_id} ON {node} CANCELLED AT "
                     f"{common.iso(time.time())}{suffix} ***\n")
    except OSError:
        pass
