"""Mock ``scontrol``: ``show job [id] [-o]``, ``show partition``, ``show node``, ``hold``, ``release``,
``requeue``, ``update JobId=N TimeLimit=..``, ``ping``, ``--version``.

``show job`` prints SLURM 22.05's key=value layout (``JobState= Reason= Dependency=``, ``ExitCode=<rc>:<sig>``,
``RunTime= TimeLimit=``, ``NumNodes= NumCPUs= NumTasks= CPUs/Task=``, ``Command= WorkDir= StdOut=``), one line
per job with ``-o``; a purged or unknown id is ``slurm_load_jobs error: Invalid job id specified`` (exit 1).
"""

from __future__ import annotations

import os
import socket
import sys
import time
TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a command ~10 ms
if TYPE_CHECKING:
    from typing import Any

from pytest_executorlib.mocks.slurm import common, db, jobtable, nodestate
from pytest_executorlib.mocks.slurm.jobstart import expand_path
from pytest_executorlib.mocks.slurm.scheduling import describe_dependency, parse_dependency


def _job_lines(conn: Any, job: dict[str, Any]) -> list[str]:
    deps = (parse_dependency(job["dependency"]) or []) if job["dependency"] else []
    states = {}
    if deps:
        ids = ",".join(str(j) for _, j in deps)
        states = dict(conn.execute(f"SELECT id, state FROM jobs WHERE id IN ({ids})").fetchall())
    dependency = describe_dependency(deps, states) if deps else "(null)"
    node = job["alloc"].split(":")[0] if job["alloc"] else ""
    batch = job["kind"] == "batch"
    out = expand_path(job["stdout"], job["id"], job["name"], node or "%N", job["workdir"]) if batch else ""
    err = expand_path(job["stderr"], job["id"], job["name"], node or "%N", job["workdir"]) if batch and job["stderr"] else out
    uid, gid, user = os.getuid(), os.getgid(), job["user"]
    start = common.iso(job["start_time"]) if job["start_time"] else "Unknown"
    end = common.iso(job["end_time"]) if job["end_time"] else (
        common.iso(job["start_time"] + job["time_limit"]) if job["start_time"] and job["time_limit"] else "Unknown")
    ncpus = jobtable.cpus(job)
    nnodes = jobtable.num_nodes(job)
    return [
        f"JobId={job['id']} JobName={job['name']}",
        f"UserId={user}({uid}) GroupId={user}({gid}) MCS_label=N/A",
        f"Priority={4294901760 - job['id']} Nice=0 Account=(null) QOS=(null)",
        f"JobState={job['state']} Reason={job['reason']} Dependency={dependency}",
        f"Requeue=1 Restarts={job['restarts']} BatchFlag={int(batch)} Reboot=0 "
        f"ExitCode={job['exit_code']}:{job['signal']}",
        f"RunTime={common.time_limit(int(jobtable.run_time(job)))} TimeLimit={common.time_limit(job['time_limit'])} "
        "TimeMin=N/A",
        f"SubmitTime={common.iso(job['submit_time'])} EligibleTime={common.iso(job['submit_time'])}",
        f"AccrueTime={common.iso(job['submit_time'])}",
        f"StartTime={start} EndTime={end} Deadline=N/A",
        f"SuspendTime=None SecsPreSuspend=0 LastSchedEval={common.iso(job['start_time'] or job['submit_time'])} "
        "Scheduler=Main",
        f"Partition={job['partition']} AllocNode:Sid={socket.gethostname()}:{job['pid'] or 0}",
        "ReqNodeList=(null) ExcNodeList=(null)",
        f"NodeList={job['nodelist'] or '(null)'}",
        *( [f"BatchHost={node}"] if batch and node else []),
        f"NumNodes={nnodes} NumCPUs={ncpus} NumTasks={job['ntasks']} CPUs/Task={job['cpus_per_task']} "
        "ReqB:S:C:T=0:0:*:*",
        f"TRES=cpu={ncpus},node={nnodes},billing={ncpus}" + (f",gres/gpu={job['gpus'] * job['ntasks']}" if job["gpus"] else ""),
        "Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=*",
        f"MinCPUsNode={job['cpus_per_task']} MinMemoryNode={job['mem'] or 0} MinTmpDiskNode=0",
        "Features=(null) DelayBoot=00:00:00",
        f"OverSubscribe={'NO' if job['exclusive'] else 'OK'} Contiguous=0 Licenses=(null) Network=(null)",
        f"Command={job['command'] or '(null)'}",
        f"WorkDir={job['workdir']}",
        *([f"StdErr={err}", "StdIn=/dev/null", f"StdOut={out}"] if batch else []),
        "Power=",
    ]


def _show(cluster: common.Cluster, args: list[str], oneliner: bool) -> int:
    what = args[0].lower() if args else ""
    if what in ("job", "jobs", "jobid"):
        ids = None
        if len(args) > 1:
            text = args[1].split("=")[-1].split(".")[0].split("_")[0]
            if not text.isdigit():
                sys.stderr.write("slurm_load_jobs error: Invalid job id specified\n")
                return 1
            ids = [int(text)]
        jobs = jobtable.visible_jobs(cluster.conn, ids)
        if not jobs:
            if ids is not None:
                sys.stderr.write("slurm_load_jobs error: Invalid job id specified\n")
                return 1
            sys.stdout.write("No jobs in the system\n")
            return 0
        for job in jobs:  # real 22.05 ends a job with "Power= " (-o) / "Power=", a "   " line and a blank line
            lines = _job_lines(cluster.conn, job)
            sys.stdout.write((" ".join(lines) + " \n") if oneliner else ("\n   ".join(lines) + "\n   \n\n"))
        return 0
    if what in ("partition", "partitions"):
        shape = cluster.shape
        for p in shape.partitions:
            if len(args) > 1 and args[1] != p.name:
                continue
            limit = "UNLIMITED" if p.max_time is None else common.time_limit(p.max_time * 60)
            names = common.nodelist([shape.node_name(i) for i in p.nodes])
            lines = [f"PartitionName={p.name}", f"AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL",
                     f"Default={'YES' if p.default else 'NO'} QoS=N/A", f"MaxNodes=UNLIMITED MaxTime={limit} MinNodes=0",
                     f"Nodes={names}", f"State=UP TotalCPUs={len(p.nodes) * shape.cpus} TotalNodes={len(p.nodes)}"]
            sys.stdout.write((" ".join(lines) + "\n") if oneliner else ("\n   ".join(lines) + "\n\n"))
        return 0
    if what in ("node", "nodes"):
        shape = cluster.shape
        down = nodestate.unavailable(cluster.conn)
        used: dict[str, int] = {}
        for (alloc,) in cluster.conn.execute("SELECT alloc FROM jobs WHERE state='RUNNING'"):
            for name, cpus, _, _ in common.decode_alloc(alloc):
                used[name] = used.get(name, 0) + cpus
        for i, name in enumerate(shape.node_names):
            if len(args) > 1 and args[1] != name:
                continue
            gres = f"gpu:{shape.gpus}" if shape.gpus else "(null)"
            alloc = used.get(name, 0)
            state = "IDLE" if not alloc else ("ALLOCATED" if alloc >= shape.cpus else "MIXED")
            if name in down:
                state = "DOWN" if down[name][0] == "down" else f"{state}+DRAIN"
            lines = [f"NodeName={name} Arch=x86_64 CoresPerSocket=1", f"CPUAlloc={alloc} CPUTot={shape.cpus} CPULoad=0.00",
                     f"Gres={gres}", f"NodeAddr=127.0.0.{i + 2} NodeHostName={name}", f"State={state}",
                     "Partitions=" + ",".join(p.name for p in shape.partitions if i in p.nodes)]
            if name in down:
                lines.append(f"Reason={down[name][1]}")
            sys.stdout.write((" ".join(lines) + "\n") if oneliner else ("\n   ".join(lines) + "\n\n"))
        return 0
    if what == "config":
        sys.stdout.write(f"ClusterName = {common.CLUSTER_NAME}\nMinJobAge = {int(jobtable.min_job_age(cluster.conn))} sec\n"
                         "MpiDefault = pmi2\nSLURM_VERSION = 22.05.8\n")
        return 0
    sys.stderr.write(f"invalid entity: {what} for keyword: show\n")
    return 1


def _job_ids(cluster: common.Cluster, args: list[str]) -> list[int]:
    out = []
    for arg in args:
        for part in arg.replace("jobid=", "").replace("JobId=", "").split(","):
            if not part.isdigit():
                sys.stderr.write("Invalid job id specified\n")
                raise SystemExit(1)
            out.append(int(part))
    return out


def _update_nodes(cluster: common.Cluster, names_text: str, fields: dict[str, str]) -> int:
    """``update nodename=n[1-2] state=down|drain|resume|undrain|idle reason=...`` (see :mod:`..nodestate`)."""
    try:
        names = nodestate.expand(names_text)
    except ValueError:
        names = []
    if not names or any(n not in cluster.shape.node_names for n in names):
        sys.stderr.write("slurm_update error: Invalid node name specified\n")
        return 1
    state = fields.get("state", "").lower()
    if state in ("undrain", "idle"):
        state = "resume"
    if state not in ("down", "drain", "resume"):
        sys.stderr.write(f"Invalid node state specified\nslurm_update error: Invalid node state specified\n")
        return 1
    if state != "resume" and not fields.get("reason"):
        sys.stderr.write("You must specify a reason when DOWNING or DRAINING a node. Request denied\n")
        return 1
    reason = f"{fields.get('reason', '')} [{common.user()}@{common.iso(time.time())}]"
    nodestate.update(cluster.conn, names, state, reason)
    cluster.wake()
    return 0


def main(cluster: common.Cluster, argv: list[str]) -> int:
    oneliner = False
    args = []
    for a in argv:
        if a in ("-o", "--oneliner"):
            oneliner = True
        elif a in ("-d", "--details", "-a", "--all", "-Q", "--quiet"):
            continue
        elif a in ("-V", "--version"):
            sys.stdout.write("slurm 22.05.8\n")
            return 0
        else:
            args.append(a)
    if not args:
        sys.stderr.write("scontrol: error: no command given\n")
        return 1
    command = args[0].lower()
    conn = cluster.conn
    if command == "show":
        return _show(cluster, args[1:], oneliner)
    if command == "ping":
        sys.stdout.write("Slurmctld(primary) at localhost is UP\n")
        return 0
    if command in ("hold", "uhold", "release", "requeue", "requeuehold"):
        ids = _job_ids(cluster, args[1:])
        with db.write(conn):
            for job_id in ids:
                row = conn.execute("SELECT state FROM jobs WHERE id=?", (job_id,)).fetchone()
                if row is None:
                    sys.stderr.write(f"Invalid job id specified for job {job_id}\n")
                    raise SystemExit(1)
                if command in ("hold", "uhold"):
                    if row[0] != "PENDING":
                        sys.stderr.write(f"Job is no longer pending execution for job {job_id}\n")
                        raise SystemExit(1)
                    conn.execute("UPDATE jobs SET hold=1, reason='JobHeldUser' WHERE id=?", (job_id,))
                elif command == "release":
                    conn.execute("UPDATE jobs SET hold=0, reason='None' WHERE id=?", (job_id,))
                else:
                    conn.execute("UPDATE jobs SET state='PENDING', reason='BeginTime', restarts=restarts+1, "
                                 "start_time=NULL, end_time=NULL, nodelist='', alloc='', hold=? WHERE id=? AND kind='batch'",
                                 (int(command == "requeuehold"), job_id))
        cluster.wake()
        return 0
    if command == "update":
        fields = dict(a.split("=", 1) for a in args[1:] if "=" in a)
        node_key = next((k for k in fields if k.lower() == "nodename"), None)
        if node_key is not None:
            return _update_nodes(cluster, fields.pop(node_key), {k.lower(): v for k, v in fields.items()})
        job_id = int(fields.pop("JobId", fields.pop("jobid", "0")))
        with db.write(conn):
            for key, value in fields.items():
                if key.lower() == "timelimit":
                    conn.execute("UPDATE jobs SET time_limit=? WHERE id=?", (common.parse_time(value), job_id))
                elif key.lower() == "partition":
                    conn.execute("UPDATE jobs SET partition=? WHERE id=?", (value, job_id))
        cluster.wake()
        return 0
    sys.stderr.write(f"invalid keyword: {args[0]}\n")
    return 1
