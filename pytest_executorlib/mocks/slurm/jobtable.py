"""Reading the job table as the query commands show it: states, MinJobAge purging, one dict per job.

A finished job stays visible to ``squeue -t all``, ``scontrol show job`` (and ``sacct`` when enabled) for
``MinJobAge`` seconds after it ended (real default 300 s; ``MockSlurm(min_job_age=...)``), then it is purged:
``Invalid job id specified``.
"""

from __future__ import annotations

import time
TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a command ~10 ms
if TYPE_CHECKING:
    from typing import Any

from pytest_executorlib.mocks.slurm import db

COMPACT = {"PENDING": "PD", "RUNNING": "R", "SUSPENDED": "S", "COMPLETING": "CG", "COMPLETED": "CD",
           "CONFIGURING": "CF", "CANCELLED": "CA", "FAILED": "F", "TIMEOUT": "TO", "PREEMPTED": "PR",
           "NODE_FAIL": "NF", "BOOT_FAIL": "BF", "DEADLINE": "DL", "OUT_OF_MEMORY": "OOM", "REQUEUED": "RQ"}
LONG = {v: k for k, v in COMPACT.items()}
ACTIVE = ("PENDING", "RUNNING", "SUSPENDED", "COMPLETING", "CONFIGURING")

COLUMNS = ("id", "name", "user", "partition", "kind", "state", "reason", "ntasks", "cpus_per_task", "cpt_given",
           "nodes", "gpus", "time_limit", "submit_time", "start_time", "end_time", "exit_code", "signal", "workdir",
           "stdout", "stderr", "command", "dependency", "hold", "nodelist", "alloc", "pid", "fault", "restarts",
           "exclusive", "mem")


def min_job_age(conn: Any) -> float:
    return float(db.meta(conn, "min_job_age", "300"))


def visible_jobs(conn: Any, ids: list[int] | None = None) -> list[dict[str, Any]]:
    """Jobs not yet purged (active, or ended less than MinJobAge ago), in id order."""
    cutoff = time.time() - min_job_age(conn)
    sql = f"SELECT {', '.join(COLUMNS)} FROM jobs WHERE (end_time IS NULL OR end_time >= ?)"
    args: list[Any] = [cutoff]
    if ids is not None:
        sql += f" AND id IN ({','.join('?' * len(ids))})"
        args.extend(ids)
    return [dict(zip(COLUMNS, row)) for row in conn.execute(sql + " ORDER BY id", args)]


def run_time(job: dict[str, Any]) -> float:
    if not job["start_time"]:
        return 0.0
    return (job["end_time"] or time.time()) - job["start_time"]


def cpus(job: dict[str, Any]) -> int:
    if job["alloc"]:
        return sum(int(item.split(":")[1]) for item in job["alloc"].split(","))
    return int(job["ntasks"]) * int(job["cpus_per_task"])


def num_nodes(job: dict[str, Any]) -> int:
    if job["alloc"]:
        return len(job["alloc"].split(","))
    return max(1, int(job["nodes"] or 1))
