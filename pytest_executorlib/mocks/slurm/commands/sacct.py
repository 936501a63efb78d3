"""Mock ``sacct``.  By default as real SLURM without slurmdbd: ``Slurm accounting storage is disabled``, exit 1
(pysqa and executorlib never call it).  ``MockSlurm(accounting=True)`` answers from the job table instead
(``-j``, ``-n``, ``-P``/``-p``, ``-X``, ``-o/--format`` with JobID, JobName, Partition, Account, AllocCPUS,
State, ExitCode, Elapsed, Start, End, Submit, NodeList, WorkDir, NTasks); steps are not listed."""

from __future__ import annotations

import getopt
import sys
TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a command ~10 ms
if TYPE_CHECKING:
    from typing import Any

from pytest_executorlib.mocks.slurm import common, db, jobtable

DEFAULT = "JobID,JobName,Partition,Account,AllocCPUS,State,ExitCode"
WIDTHS = {"jobid": 12, "jobname": 10, "partition": 10, "account": 10, "alloccpus": 10, "state": 10, "exitcode": 8}


def _value(job: dict[str, Any], name: str) -> str:
    key = name.lower()
    state = job["state"]
    if key == "state" and state == "CANCELLED":
        return "CANCELLED by 0"
    return {
        "jobid": str(job["id"]), "jobidraw": str(job["id"]), "jobname": job["name"], "partition": job["partition"],
        "account": "", "alloccpus": str(jobtable.cpus(job) if job["alloc"] else 0), "ncpus": str(jobtable.cpus(job)),
        "state": state, "exitcode": f"{job['exit_code']}:{job['signal']}",
        "elapsed": common.time_limit(int(jobtable.run_time(job))), "start": common.iso(job["start_time"]),
        "end": common.iso(job["end_time"]), "submit": common.iso(job["submit_time"]),
        "nodelist": job["nodelist"] or "None assigned", "workdir": job["workdir"], "ntasks": str(job["ntasks"]),
        "user": job["user"], "timelimit": common.time_limit(job["time_limit"]),
    }.get(key, "")


def main(cluster: common.Cluster, argv: list[str]) -> int:
    if db.meta(cluster.conn, "accounting", "0") != "1":
        sys.stderr.write("Slurm accounting storage is disabled\n")
        return 1
    try:
        opts, _ = getopt.gnu_getopt(argv, "j:nPpXo:S:E:u:a", ["jobs=", "noheader", "parsable2", "parsable",
                                                               "allocations", "format=", "starttime=", "endtime=",
                                                               "user=", "allusers", "brief", "long"])
    except getopt.GetoptError as exc:
        sys.stderr.write(f"sacct: unrecognized option '--{exc.opt}'\n")
        return 1
    ids, header, sep, fields = None, True, None, DEFAULT
    for opt, value in opts:
        if opt in ("-j", "--jobs"):
            ids = [int(x.split(".")[0]) for x in value.split(",") if x.split(".")[0].isdigit()]
        elif opt in ("-n", "--noheader"):
            header = False
        elif opt in ("-P", "--parsable2"):
            sep = "|"
        elif opt in ("-p", "--parsable"):
            sep = "|+"
        elif opt in ("-o", "--format"):
            fields = value
        elif opt == "--brief":
            fields = "JobID,State,ExitCode"
    names = [f.split("%")[0] for f in fields.split(",") if f]
    jobs = [j for j in jobtable.visible_jobs(cluster.conn, ids)]
    lines = []
    if sep is not None:
        end = "|" if sep == "|+" else ""
        if header:
            lines.append("|".join(names) + end)
        lines.extend("|".join(_value(j, n) for n in names) + end for j in jobs)
    else:
        widths = [WIDTHS.get(n.lower(), 10) for n in names]
        if header:
            lines.append(" ".join(n[:w].rjust(w) for n, w in zip(names, widths)) + " ")
            lines.append(" ".join("-" * w for w in widths) + " ")
        for j in jobs:
            lines.append(" ".join(_value(j, n)[:w].rjust(w) for n, w in zip(names, widths)) + " ")
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
    return 0
