"""Mock ``srun``: outside an allocation a new job (step 0), inside one (``SLURM_JOB_ID``) a new step.

A new job is inserted PENDING with this process's wake-up socket; the controller either starts it (and wakes
us) or leaves it pending with a reason (and wakes us too), upon which we print SLURM's
``srun: job N queued and waiting for resources`` and keep waiting -- forever for a request that can never be
granted, as real SLURM does.  The tasks are started by :mod:`..steprun`.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import sys
import time

from pytest_executorlib.mocks.slurm import common, db, nodestate, stepreport, steprun, submit
from pytest_executorlib.mocks.slurm.jobstart import load_job
from pytest_executorlib.mocks.slurm.options import parse, positive_int

MPI_TYPES = ("cray_shasta", "none", "pmi2")


def _open_output(pattern: str | None, job_id: int, step: int, workdir: str) -> int | None:
    if pattern is None:
        return None
    path = pattern.replace("%j", str(job_id)).replace("%J", f"{job_id}.{step}").replace("%s", str(step))
    return os.open(os.path.join(workdir, path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)


def _wait_for_allocation(cluster: common.Cluster, job_id: int, sock: socket.socket) -> str:
    """Block until the controller starts the job; returns its final state if it ended before starting."""
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    said_queued = False
    cancelled: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        cancelled.append(signum)
        with db.write(cluster.conn):
            cluster.conn.execute("UPDATE jobs SET state='CANCELLED', end_time=? WHERE id=? AND state='PENDING'",
                                 (time.time(), job_id))
        common.notify(common.waiter_address(cluster.root, os.getpid()))  # end the wait below

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            state, reason, started = cluster.conn.execute("SELECT state, reason, start_time FROM jobs WHERE id=?",
                                                          (job_id,)).fetchone()
            if state == "RUNNING" or (started and state in ("TIMEOUT", "PREEMPTED", "NODE_FAIL")):
                # (ended at once after starting: the step starts and is stopped with SLURM's messages)
                if said_queued:
                    sys.stderr.write(f"srun: job {job_id} has been allocated resources\n")
                return "RUNNING"
            if state != "PENDING":
                if cancelled:  # SIGINT/SIGTERM while waiting
                    sys.stderr.write(f"srun: Job allocation {job_id} has been revoked\n")
                else:  # scancel while waiting
                    sys.stderr.write("srun: Job has been cancelled\nsrun: error: Unable to allocate resources: "
                                     "Job/step already completing or completed\n")
                cluster.wake()
                return state
            if reason != "None" and not said_queued:
                if reason == "PartitionConfig":
                    sys.stderr.write("srun: Requested partition configuration not available now\n")
                elif reason.startswith(nodestate.REASON_NODES_DOWN):
                    sys.stderr.write("srun: Required node not available (down, drained or reserved)\n")
                sys.stderr.write(f"srun: job {job_id} queued and waiting for resources\n")
                sys.stderr.flush()
                said_queued = True
            sel.select()
            try:
                while sock.recv(64):
                    pass
            except BlockingIOError:
                pass
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        sel.close()


def _fault(cluster: common.Cluster, step: steprun.Step, fault: str) -> int | None:
    """Apply a fault injected through the control API at step start; returns srun's exit status."""
    kind, _, value = fault.partition(":")
    n = step.job["ntasks"]
    nodes = [p[0] for p in step.placement for _ in range(p[3])]
    if kind == "exit":
        step.codes = {r: (int(value or 1), 0) for r in range(n)}
        return stepreport.report(step, nodes, None)
    if kind == "no_output":
        step.codes = {r: (0, signal.SIGKILL) for r in range(n)}
        return stepreport.report(step, nodes, None)
    if kind == "nodefail" and not float(value or 0):  # later: the controller ends the running step
        stepreport.announce(step, nodestate.NODE_FAILURE)
        return 143
    return None


def main(cluster: common.Cluster, argv: list[str]) -> int:
    opts, rest = parse("srun", argv)
    mpi = opts.get("mpi", "pmi2")
    if mpi == "list":
        sys.stderr.write("srun: MPI types are...\n" + "".join(f"srun: {t}\n" for t in MPI_TYPES))
        return 0
    if mpi not in MPI_TYPES:
        for line in (f"Couldn't find the specified plugin name for mpi/{mpi} looking at all files",
                     f"cannot find mpi plugin for mpi/{mpi}", f"MPI: Cannot create context for mpi/{mpi}",
                     "MPI: Unable to load any plugin", f"Invalid MPI type '{mpi}', --mpi=list for acceptable types"):
            sys.stderr.write(f"srun: error: {line}\n")
        return 1
    if not rest:
        sys.stderr.write("srun: fatal: No command given to execute.\n")
        return 1
    cwd = submit.current_dir()
    workdir = os.path.join(cwd, opts["chdir"]) if "chdir" in opts else cwd
    missing_dir = "" if os.path.isdir(workdir) else workdir
    outer = os.environ.get("SLURM_JOB_ID", "")
    row = None
    if outer.isdigit():
        row = cluster.conn.execute("SELECT state FROM jobs WHERE id=?", (int(outer),)).fetchone()
    if row is not None and row[0] == "RUNNING":
        step = _new_step(cluster, int(outer), opts, rest, mpi)
        fault = ""
    else:
        new, fault = _new_job(cluster, opts, rest, workdir, mpi)
        if new is None:
            return 1
        step = new
    if missing_dir:
        workdir = "/tmp"
        sys.stderr.write(f"slurmstepd-{step.placement[0][0]}: error: couldn't chdir to `{missing_dir}': "
                         "No such file or directory: going to /tmp instead\n")
    os.chdir(workdir)
    if fault:
        rc = _fault(cluster, step, fault)
        if rc is not None:
            return _finish(cluster, step, rc)
    step.label = "label" in opts
    out = _open_output(opts.get("output"), step.job["id"], step.step_id, workdir)
    err = _open_output(opts.get("error"), step.job["id"], step.step_id, workdir) if "error" in opts else out
    rc = steprun.run(cluster, step, out, err)
    return _finish(cluster, step, rc) if step.sock is not None else rc


def _finish(cluster: common.Cluster, step: steprun.Step, rc: int) -> int:
    """Record the end of a job started by this srun (unless the controller ended it) and wake the controller."""
    if step.sock is None:
        return rc
    code, sig = (rc, 0) if rc < 128 else (0, rc - 128)
    with db.write(cluster.conn):
        cluster.conn.execute("UPDATE jobs SET state=?, exit_code=?, signal=?, end_time=?, reason=? "
                             "WHERE id=? AND state='RUNNING'",
                             ("COMPLETED" if rc == 0 else "FAILED", code, sig, time.time(),
                              "None" if rc == 0 else "NonZeroExitCode", step.job["id"]))
        if (step.job.get("fault") or "").startswith("nodefail"):
            cluster.conn.execute("UPDATE jobs SET state='NODE_FAIL', reason='NodeDown' WHERE id=?", (step.job["id"],))
    cluster.wake()
    return rc


def _new_job(cluster: common.Cluster, opts: dict[str, str], rest: list[str], workdir: str,
             mpi: str) -> tuple[steprun.Step | None, str]:
    job = submit.build(cluster, opts, os.path.basename(rest[0]), workdir, "srun")
    job["command"] = " ".join(rest)
    job["pid"] = os.getpid()
    job["stdout"] = job["stderr"] = ""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(common.waiter_address(cluster.root, os.getpid()))
    sock.setblocking(False)
    try:
        job_id = submit.insert(cluster, job, dict(os.environ), True)
    except submit.Rejected as exc:
        cluster.error(f"Unable to allocate resources: {exc}", 1)
    cluster.wake()
    state = _wait_for_allocation(cluster, job_id, sock)
    if state != "RUNNING":
        return None, ""
    loaded = load_job(cluster.conn, job_id)
    # the step uses its tasks' CPUs (an --exclusive job holds whole nodes: SLURM_CPUS_ON_NODE is still 1 per task)
    placement = [(node, tasks * loaded["cpus_per_task"], gpus, tasks)
                 for node, _, gpus, tasks in common.decode_alloc(loaded["alloc"])]
    return (steprun.Step(loaded, 0, rest, placement, mpi, "kill-on-bad-exit" in opts, sock), loaded["fault"] or "")


def _new_step(cluster: common.Cluster, job_id: int, opts: dict[str, str], rest: list[str], mpi: str) -> steprun.Step:
    job = load_job(cluster.conn, job_id)
    alloc = common.decode_alloc(job["alloc"])
    default = job["ntasks"] if job["ntasks_given"] else len(alloc)
    ntasks = positive_int("srun", opts, "ntasks", default, "-n")
    cpt = positive_int("srun", opts, "cpus-per-task", 1, "-c")
    want = positive_int("srun", opts, "nodes", 0, "-N") if "nodes" in opts else 0
    want = submit.fewer_nodes("srun", opts, ntasks, want)
    per_node = positive_int("srun", opts, "ntasks-per-node", 0, "--ntasks-per-node") if "ntasks-per-node" in opts else 0
    if ntasks * cpt > sum(a[1] for a in alloc):
        cluster.error(f"Unable to create step for job {job_id}: More processors requested than permitted", 1)
    with db.write(cluster.conn):
        step_id = int(cluster.conn.execute("SELECT steps FROM jobs WHERE id=?", (job_id,)).fetchone()[0])
        cluster.conn.execute("UPDATE jobs SET steps=steps+1 WHERE id=?", (job_id,))
    # A step spans every node of the allocation by default (SLURM_NNODES), -N k the first k; tasks are dealt
    # out one per node in turn while a node has CPUs left, then ranks are numbered in block order.
    chosen = alloc[:min(want or len(alloc), ntasks, len(alloc))]
    counts = [0] * len(chosen)
    left = ntasks
    while left:
        grew = False
        for i, (_, cpus, _, _) in enumerate(chosen):
            if left and counts[i] < max(cpus // cpt, 1) and (not per_node or counts[i] < per_node):
                counts[i] += 1
                left -= 1
                grew = True
        if not grew:
            counts[-1] += left  # more tasks than CPUs (oversubscribed step): the rest on the last node
            left = 0
    placement = [(node, n * cpt, gpus, n) for (node, _, gpus, _), n in zip(chosen, counts) if n]
    job["env"] = dict(os.environ)
    job["cpt_given"] = int("cpus-per-task" in opts) or job["cpt_given"]
    job["cpus_per_task"] = cpt if "cpus-per-task" in opts else job["cpus_per_task"]
    if "job-name" in opts:
        job["name"] = opts["job-name"]
    return steprun.Step(job, step_id, rest, placement, mpi, "kill-on-bad-exit" in opts, None)
