"""Mock ``scancel``: end jobs as CANCELLED (exit ``0:15``); unknown or finished ids are silently ignored (rc 0).

The database change is made here, synchronously, so ``squeue`` right after ``scancel`` no longer lists the
job; the controller (woken) then stops its processes.  ``-s SIG`` signals without cancelling.
"""

from __future__ import annotations

import getopt
import os
import signal
import sys
import time

from pytest_executorlib.mocks.slurm import common, db
from pytest_executorlib.mocks.slurm.jobstart import write_stop_message


def _signal(name: str) -> int | None:
    name = name.upper()
    if name.isdigit():
        return int(name)
    sig = getattr(signal, name if name.startswith("SIG") else "SIG" + name, None)
    return int(sig) if sig is not None else None


def main(cluster: common.Cluster, argv: list[str]) -> int:
    try:
        opts, args = getopt.gnu_getopt(argv, "s:u:n:p:t:bfQvi", ["signal=", "user=", "name=", "partition=",
                                                                 "state=", "batch", "full", "quiet", "verbose",
                                                                 "me", "interactive"])
    except getopt.GetoptError as exc:
        sys.stderr.write(f"scancel: unrecognized option '--{exc.opt}'\nTry \"scancel --help\" for more information\n")
        return 1
    sig = None
    filters: dict[str, str] = {}
    for opt, value in opts:
        if opt in ("-s", "--signal"):
            sig = _signal(value)
            if sig is None:
                cluster.error(f"Invalid job signal: {value}", 1)
        elif opt in ("-u", "--user", "-n", "--name", "-p", "--partition", "-t", "--state"):
            filters[opt.lstrip("-")[0]] = value
        elif opt == "--me":
            filters["u"] = common.user()
    ids = []
    for arg in args:
        job = arg.split(".")[0].split("_")[0]
        if not job.isdigit():
            cluster.error(f"Invalid job id {arg}", 1)
        ids.append(int(job))
    if not ids and not filters:
        cluster.error("No job identification provided", 1)
    conn = cluster.conn
    sql = "SELECT id, kind, state, pid FROM jobs WHERE state IN ('PENDING','RUNNING')"
    params: list[object] = []
    if ids:
        sql += f" AND id IN ({','.join('?' * len(ids))})"
        params.extend(ids)
    for key, column in (("u", "user"), ("n", "name"), ("p", "partition")):
        if key in filters:
            sql += f" AND {column}=?"
            params.append(filters[key])
    if sig is not None and sig != signal.SIGKILL:
        for job_id, kind, state, pid in conn.execute(sql, params).fetchall():
            if state == "RUNNING":
                _send(conn, job_id, kind, pid, sig)
        return 0
    with db.write(conn):
        targets = conn.execute(sql, params).fetchall()
        now = time.time()
        for job_id, _, _, _ in targets:
            conn.execute("UPDATE jobs SET state='CANCELLED', exit_code=0, signal=15, end_time=?, reason='None' "
                         "WHERE id=?", (now, job_id))
    for job_id, kind, state, pid in targets:
        if kind == "batch" and state == "RUNNING":
            write_stop_message(conn, job_id, "")
        elif kind == "srun":  # the srun waiting for (or running) this job looks at it again
            common.notify(common.waiter_address(cluster.root, pid))
    if targets:
        cluster.wake()
    return 0


def _send(conn: object, job_id: int, kind: str, pid: int, sig: int) -> None:
    groups = [r[0] for r in conn.execute("SELECT pgid FROM steps WHERE job_id=? AND state='RUNNING'",  # type: ignore[attr-defined]
                                         (job_id,))]
    if kind == "batch" and pid:
        groups.append(pid)
    for pgid in groups:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass
