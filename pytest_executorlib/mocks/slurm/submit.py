"""Turning srun/sbatch options into a job row: validation with SLURM's messages, then one INSERT.

Errors follow real SLURM 22.05 (observed): a bad ``--time`` exits 255 (``Invalid --time specification``); an
unknown partition or an impossible ``--mem`` exits 1 with ``Unable to allocate resources: ...`` (srun) or
``Batch job submission failed: ...`` (sbatch) after a line naming the problem; a bad GRES is the single line
``Invalid generic resource (gres) specification``; none of them uses a job id.  A ``-c`` larger than a node
or a ``-N`` larger than the partition is accepted and stays PENDING (``PartitionConfig``).
"""

from __future__ import annotations

import os
import sys
import time
TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a command ~10 ms
if TYPE_CHECKING:
    from typing import Any

from pytest_executorlib.mocks.slurm import common, db, nodestate
from pytest_executorlib.mocks.slurm.options import positive_int
from pytest_executorlib.mocks.slurm.scheduling import parse_dependency

#: Memory of each simulated node (MB): a larger ``--mem`` can never be satisfied.
NODE_MEMORY_MB = 16000


def _fail(cluster: common.Cluster, why: str) -> None:
    if cluster.command == "srun":
        cluster.error(f"Unable to allocate resources: {why}", 1)
    cluster.error(f"Batch job submission failed: {why}", 1)


def _memory_mb(text: str) -> int | None:
    units = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}
    text = text.strip().upper()
    factor = units.get(text[-1:], None)
    number = text[:-1] if factor is not None else text
    try:
        return int(float(number) * (factor or 1))
    except ValueError:
        return None


def build(cluster: common.Cluster, opts: dict[str, str], name: str, workdir: str, kind: str) -> dict[str, Any]:
    """Validate the options and return the job's columns (exits with SLURM's message when invalid)."""
    cmd = cluster.command
    shape = cluster.shape
    ntasks = positive_int(cmd, opts, "ntasks", 1, "-n")
    cpt = positive_int(cmd, opts, "cpus-per-task", 1, "-c")
    nodes = positive_int(cmd, opts, "nodes", 0, "-N") if "nodes" in opts else 0
    per_node = positive_int(cmd, opts, "ntasks-per-node", 0, "--ntasks-per-node") if "ntasks-per-node" in opts else 0
    if "ntasks" not in opts and nodes:
        ntasks = nodes * (per_node or 1)  # -N k alone: one task per node (--ntasks-per-node t: t per node)
    elif "ntasks" not in opts and per_node:
        ntasks = per_node
    if per_node:  # at most t tasks on a node: -n 3 --ntasks-per-node=1 takes 3 nodes
        nodes = max(nodes, -(-ntasks // per_node))
    time_limit = None
    if "time" in opts:
        try:
            time_limit = common.parse_time(opts["time"])
        except ValueError:
            cluster.error("Invalid --time specification", 255)
    part_name = opts.get("partition")
    if part_name is not None and not part_name:
        sys.stderr.write(f"{cmd}: error: invalid partition specified: (null)\n")
    if part_name is not None and "," in part_name:
        part_name = part_name.split(",")[0]
    partition = shape.partition(part_name) if part_name != "" else None
    if partition is None:
        if part_name:
            sys.stderr.write(f"{cmd}: error: invalid partition specified: {part_name}\n")
        _fail(cluster, "Invalid partition name specified")
    assert partition is not None
    if time_limit is None and "time" not in opts and partition.max_time is not None:
        time_limit = partition.max_time * 60
    gpus = positive_int(cmd, opts, "gpus-per-task", 0, "--gpus-per-task") if "gpus-per-task" in opts else 0
    total = opts.get("gpus") or opts.get("gres") or opts.get("gpus-per-node")
    if total is not None:
        fields = total.split(":")
        if "gres" in opts and fields[0] != "gpu":
            cluster.error("Invalid generic resource (gres) specification", 1)
        try:
            count = int(fields[-1]) if len(fields) > 1 or "gres" not in opts else 1
        except ValueError:
            cluster.error("Invalid generic resource (gres) specification", 1)
        gpus = max(gpus, -(-count // ntasks))
    if gpus and gpus > shape.gpus:
        cluster.error("Invalid generic resource (gres) specification", 1)
    mem = opts.get("mem") or opts.get("mem-per-cpu")
    if mem is not None:
        mb = _memory_mb(mem)
        if mb is None:
            cluster.error(f"invalid memory constraint {mem}", 255)
        assert mb is not None
        if "mem-per-cpu" in opts and "mem" not in opts:
            mb *= min(ntasks * cpt, shape.cpus)
        if mb > NODE_MEMORY_MB:
            sys.stderr.write(f"{cmd}: error: Memory specification can not be satisfied\n")
            _fail(cluster, "Requested node configuration is not available")
    # -c larger than a node, -N larger than the partition: accepted, PENDING (PartitionConfig) forever, as SLURM does
    nodes = fewer_nodes(cmd, opts, ntasks, nodes)
    wanted_nodes: dict[str, str] = {}
    for key in ("nodelist", "exclude"):  # -w n[1-2] / -x n3
        if key in opts:
            try:
                names = nodestate.expand(opts[key])
            except ValueError:
                names = [opts[key]]
            if not names or any(n not in shape.node_names for n in names):
                _fail(cluster, "Invalid node name specified")
            wanted_nodes[key] = ",".join(names)
    dependency = opts.get("dependency", "")
    if dependency and parse_dependency(dependency) is None:
        cluster.error("Job dependency problem", 1) if cmd == "srun" else _fail(cluster, "Job dependency problem")
    return {
        "name": opts.get("job-name") or name, "user": common.user(), "partition": partition.name, "kind": kind,
        "ntasks": ntasks, "cpus_per_task": cpt, "cpt_given": int("cpus-per-task" in opts), "nodes": nodes,
        "gpus": gpus, "time_limit": time_limit, "workdir": workdir, "dependency": dependency,
        "exclusive": int("exclusive" in opts), "mem": 0 if mem is None else _memory_mb(mem),
        "hold": int("hold" in opts), "tasks_per_node": per_node,
        "req_nodes": wanted_nodes.get("nodelist", ""), "exc_nodes": wanted_nodes.get("exclude", ""),
    }


def insert(cluster: common.Cluster, job: dict[str, Any], env: dict[str, str], ntasks_given: bool) -> int:
    """Insert the job (PENDING), applying the control API's "next job" hold and fault; returns its id."""
    env = dict(env)
    env["_XLIB_SUBMIT_DIR"] = current_dir()
    env["_XLIB_NTASKS_GIVEN"] = "1" if ntasks_given else "0"
    conn = cluster.conn
    with db.write(conn):
        row = conn.execute("SELECT seq, fault FROM next_faults WHERE command IN (?, 'any') ORDER BY seq LIMIT 1",
                           (cluster.command,)).fetchone()
        fault = ""
        if row is not None:
            conn.execute("DELETE FROM next_faults WHERE seq=?", (row[0],))
            fault = row[1]
        if not fault.startswith("reject:"):
            if db.meta(conn, "hold_new") == "1":
                job["hold"] = 1
            job.update(state="PENDING", reason="None", submit_time=time.time(), fault=fault,
                       env=db.pack([f"{k}={v}" for k, v in env.items()]))
            cols = ", ".join(job)
            cur = conn.execute(f"INSERT INTO jobs({cols}) VALUES({', '.join('?' * len(job))})", tuple(job.values()))
            return int(cur.lastrowid)
    raise _Rejected(fault[len("reject:"):])  # after the commit: the fault is used up, no job id is


def fewer_nodes(cmd: str, opts: dict[str, str], ntasks: int, nodes: int) -> int:
    """``-N 2 -n 1``: SLURM warns and uses one node per task."""
    if nodes > ntasks and "ntasks" in opts:
        sys.stderr.write(f"{cmd}: Warning: can't run {ntasks} processes on {nodes} nodes, setting nnodes to {ntasks}\n")
        return ntasks
    return nodes


class _Rejected(Exception):
    pass


Rejected = _Rejected


def current_dir() -> str:
    try:
        return os.getcwd()
    except OSError:
        return "/tmp"
