"""The mock ``slurmctld``: one small process per cluster that starts jobs, enforces limits and stops them.

Event-driven, never sleep-polling: it blocks in one ``selectors`` wait on

* its datagram socket (``common.ctld_address``): any command that changed the database (sbatch, srun,
  scancel, scontrol hold/release, the control API) sends one byte, which means "schedule again";
* a pidfd per process it watches: the batch scripts it started (its children) and the ``srun`` processes
  that own running jobs (so a killed ``srun`` frees its job's resources);
* the pidfd of the cluster's owner (the process that entered ``MockSlurm``): if it dies, the cluster stops;
* a timeout equal to the next timer: time limits, the SIGKILL that follows a SIGTERM after ``KILL_WAIT``,
  and -- for a controller started by ``xlib mock-env`` -- the idle exit after ``XLIB_MOCK_SLURM_IDLE`` s.

Each wake-up runs one scheduling pass (:func:`Controller.schedule`) in one short write transaction: jobs the
database says were ended (scancel, faults) are stopped, then pending jobs are started in id order where
:func:`scheduling.place` finds room and their dependencies allow.  Batch scripts are started here; an ``srun``
job is started by the waiting ``srun`` itself, which this process wakes through its own socket.

(About 370 lines: the event loop, the timers, the scheduling pass and the process watching are one state
machine over the same in-memory maps -- ``watched``, ``by_job``, ``timers`` -- kept together on purpose.)
"""

from __future__ import annotations

import contextlib
import fcntl
import heapq
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any

from pytest_executorlib.mocks.slurm import common, db, hostnames, nodestate
from pytest_executorlib.mocks.slurm.jobstart import batch_environment, expand_path, write_stop_message
from pytest_executorlib.mocks.slurm.scheduling import Request, dependency_status, ever_fits, parse_dependency, place

#: Seconds between SIGTERM and SIGKILL when a job is stopped (real SLURM: KillWait=30).
KILL_WAIT = 2.0
#: Idle seconds after which a controller without owner (``xlib mock-env``) exits; the next command restarts it.
IDLE_EXIT = float(os.environ.get("XLIB_MOCK_SLURM_IDLE", "600"))


@dataclass
class Watched:
    job_id: int
    pid: int
    kind: str  # "batch": our child; "srun": the srun process owning the job
    popen: Any = None


class Controller:
    def __init__(self, root: str, owner: int) -> None:
        self.root = root
        self.cluster = common.Cluster(root, "slurmctld")
        self.conn = self.cluster.conn
        self.shape = self.cluster.shape
        self.sel = selectors.DefaultSelector()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(common.ctld_address(root))
        self.sock.setblocking(False)
        self.sel.register(self.sock, selectors.EVENT_READ, "wake")
        self.owner = owner
        if owner:
            self.sel.register(os.pidfd_open(owner), selectors.EVENT_READ, "owner")
        self.watched: dict[int, Watched] = {}  # pidfd -> what it watches
        self.by_job: dict[int, int] = {}  # job id -> pidfd
        self.timers: list[tuple[float, int, str, float]] = []  # (deadline, job, kind, job start time)
        self.last_activity = time.monotonic()

    # --- main loop -------------------------------------------------------------------------------------------
    def run(self) -> int:
        while True:
            if self.cluster.stopped() or (self.owner and not _alive(self.owner)):
                self.shutdown()
                return 0
            try:
                self.schedule()
            except Exception:  # logged; the next wake-up tries again (the database is the truth)
                traceback.print_exc()
            timeout = self.timers[0][0] - time.time() if self.timers else None
            if not self.owner:
                idle_left = self.last_activity + IDLE_EXIT - time.monotonic()
                if not self.watched and idle_left <= 0 and not self._active_jobs():
                    return 0
                timeout = idle_left if timeout is None else min(timeout, idle_left)
            for key, _ in self.sel.select(None if timeout is None else max(timeout, 0)):
                self.last_activity = time.monotonic()
                if key.data == "wake":
                    with contextlib.suppress(BlockingIOError):
                        while self.sock.recv(64):
                            pass
                elif key.data == "owner":
                    self.shutdown()
                    return 0
                else:
                    self._exited(key.fd)
            self._fire_timers()

    def _active_jobs(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM jobs WHERE state IN ('PENDING','RUNNING')").fetchone()[0])

    # --- processes ---------------------------------------------------------------------------------------------
    def watch(self, job_id: int, pid: int, kind: str, popen: Any = None) -> None:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:  # already gone: handle as exited at the next pass
            self._finish_vanished(job_id, kind)
            return
        self.watched[fd] = Watched(job_id, pid, kind, popen)
        self.by_job[job_id] = fd
        self.sel.register(fd, selectors.EVENT_READ, "pid")

    def _exited(self, fd: int) -> None:
        w = self.watched.pop(fd)
        self.sel.unregister(fd)
        os.close(fd)
        if self.by_job.get(w.job_id) == fd:
            del self.by_job[w.job_id]
        if w.kind == "batch":
            rc = w.popen.wait()
            code, sig = (rc, 0) if rc >= 0 else (0, -rc)
            state, reason = ("COMPLETED", "None") if rc == 0 else ("FAILED", "NonZeroExitCode")
            with db.write(self.conn):  # pid: a requeued job may already run again under another process
                self.conn.execute(
                    "UPDATE jobs SET state=?, exit_code=?, signal=?, end_time=?, reason=? "
                    "WHERE id=? AND state='RUNNING' AND pid=?", (state, code, sig, time.time(), reason, w.job_id, w.pid))
        else:
            self._finish_vanished(w.job_id, "srun")

    def _finish_vanished(self, job_id: int, kind: str) -> None:
        """An srun died without recording its job's end (killed): the job failed, its tasks are stopped."""
        with db.write(self.conn):
            self.conn.execute("UPDATE jobs SET state='CANCELLED', signal=9, end_time=?, reason='None' "
                              "WHERE id=? AND state='RUNNING'", (time.time(), job_id))
        self._kill_steps(job_id, signal.SIGKILL)

    def _kill_steps(self, job_id: int, sig: int) -> None:
        for (pgid,) in self.conn.execute("SELECT pgid FROM steps WHERE job_id=? AND state='RUNNING'", (job_id,)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)

    def _stop(self, job_id: int, sig: int = signal.SIGTERM) -> None:
        """Stop the processes of an ended job: its batch script and steps (SIGTERM now, SIGKILL later)."""
        fd = self.by_job.get(job_id)
        w = self.watched.get(fd) if fd is not None else None
        if w is not None and w.kind == "batch":
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(w.pid, sig)
        elif w is not None:  # srun: it stops its own tasks when woken, and exits
            common.notify(common.waiter_address(self.root, w.pid))
        self._kill_steps(job_id, sig)
        if sig != signal.SIGKILL:
            target = float(w.pid) if w is not None and w.kind == "batch" else 0.0
            heapq.heappush(self.timers, (time.time() + KILL_WAIT, job_id, "kill", target))

    # --- timers ------------------------------------------------------------------------------------------------
    def _fire_timers(self) -> None:
        now = time.time()
        while self.timers and self.timers[0][0] <= now:
            _, job_id, kind, started = heapq.heappop(self.timers)
            if kind == "kill":  # the SIGKILL KILL_WAIT after a SIGTERM (started = the batch script's pid)
                if started:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(int(started), signal.SIGKILL)
                self._kill_steps(job_id, signal.SIGKILL)
                continue
            row = self.conn.execute("SELECT state, start_time, kind FROM jobs WHERE id=?", (job_id,)).fetchone()
            if row is None or row[0] != "RUNNING" or row[1] != started:
                continue  # ended or requeued meanwhile
            new_state = {"limit": "TIMEOUT", "preempt": "PREEMPTED", "nodefail": "NODE_FAIL"}[kind]
            with db.write(self.conn):
                if kind == "preempt" and row[2] == "batch":  # a batch job is requeued and runs again
                    self.conn.execute("UPDATE jobs SET state='PENDING', reason='BeginTime', restarts=restarts+1, "
                                      "start_time=NULL, nodelist='', alloc='', fault='' WHERE id=?", (job_id,))
                else:
                    reason = {"limit": "TimeLimit", "nodefail": "NodeDown"}.get(kind, "None")
                    self.conn.execute("UPDATE jobs SET state=?, signal=?, exit_code=0, end_time=?, reason=? WHERE id=?",
                                      (new_state, 0 if kind == "nodefail" else 15, time.time(), reason, job_id))
            if row[2] == "batch":
                write_stop_message(self.conn, job_id, {"limit": "DUE TO TIME LIMIT", "preempt": "DUE TO PREEMPTION",
                                                       "nodefail": nodestate.NODE_FAILURE}[kind])
            self._stop(job_id)

    # --- scheduling ------------------------------------------------------------------------------------------
    def schedule(self) -> None:
        to_start: list[tuple[Any, ...]] = []
        to_stop: list[int] = []
        self.told: list[int] = []  # pids of waiting sruns whose job got a (new) pending reason
        with db.write(self.conn):
            rows = self.conn.execute(
                "SELECT id, state, kind, partition, ntasks, cpus_per_task, nodes, gpus, exclusive, hold, dependency, "
                "alloc, fault, pid, tasks_per_node, req_nodes, exc_nodes FROM jobs WHERE state IN ('PENDING','RUNNING') OR id IN (%s) ORDER BY id"
                % (",".join(str(j) for j in self.by_job) or "0")).fetchall()
            free_cpus = [self.shape.cpus] * self.shape.nodes
            free_gpus = [self.shape.gpus] * self.shape.nodes
            unavailable = nodestate.unavailable(self.conn)
            down = {name for name, (state, _, _) in unavailable.items() if state == "down"}
            for r in rows:
                if r[1] == "RUNNING":
                    names = [a[0] for a in common.decode_alloc(r[11])]
                    failed = [n for n in names if n in down]
                    if failed:  # a node of the job went down: it ends (srun) or is requeued (batch) now
                        self._node_failed(r[0], r[2], failed[0])
                        to_stop.append(r[0])
                        continue
                    for name, cpus, gpus, _ in common.decode_alloc(r[11]):
                        free_cpus[int(name[1:]) - 1] -= cpus
                        free_gpus[int(name[1:]) - 1] -= gpus
                elif r[0] in self.by_job and r[1] != "PENDING":
                    to_stop.append(r[0])  # ended in the database (scancel, ...) but still has processes
            up_cpus = [0 if self.shape.node_name(i) in unavailable else self.shape.cpus for i in range(self.shape.nodes)]
            for i in range(self.shape.nodes):
                if self.shape.node_name(i) in unavailable:
                    free_cpus[i] = free_gpus[i] = 0
            states = {}
            dep_ids = {int(j) for r in rows if r[10] for _, j in (parse_dependency(r[10]) or [])}
            if dep_ids:
                states = dict(self.conn.execute(
                    f"SELECT id, state FROM jobs WHERE id IN ({','.join(map(str, dep_ids))})").fetchall())
            now = time.time()
            for r in rows:
                if r[1] != "PENDING":
                    continue
                job_id, part = r[0], self.shape.partition(r[3])
                if r[9]:
                    self._reason(r, "JobHeldUser")
                    continue
                deps = parse_dependency(r[10]) if r[10] else []
                status = dependency_status(deps or [], states)
                if status != "ok":
                    self._reason(r, "Dependency" if status == "wait" else "DependencyNeverSatisfied")
                    continue
                req = Request(r[4], r[5], r[6], r[7], part.nodes if part else (), bool(r[8]), r[14] or 0,
                              _indices(r[15]), _indices(r[16]))
                alloc = place(self.shape, req, free_cpus, free_gpus)
                if alloc is None:
                    if not ever_fits(self.shape, req):
                        self._reason(r, "PartitionConfig")
                    elif unavailable and place(self.shape, req, list(up_cpus), [self.shape.gpus] * self.shape.nodes) is None:
                        self._reason(r, nodestate.REASON_NODES_DOWN + common.nodelist(sorted(unavailable)))
                    else:
                        self._reason(r, "Resources")
                    continue
                for name, cpus, gpus, _ in common.decode_alloc(alloc):
                    free_cpus[int(name[1:]) - 1] -= cpus
                    free_gpus[int(name[1:]) - 1] -= gpus
                names = [a[0] for a in common.decode_alloc(alloc)]
                self.conn.execute("UPDATE jobs SET state='RUNNING', reason='None', start_time=?, alloc=?, nodelist=? "
                                  "WHERE id=?", (now, alloc, common.nodelist(names), job_id))
                to_start.append((job_id, r[2], now))
        for pid in self.told:
            common.notify(common.waiter_address(self.root, pid))
        for job_id in to_stop:
            self._stop(job_id)
        for job_id, kind, started in to_start:
            try:
                self._start(job_id, kind, started)
            except Exception:  # a bug must not stop the cluster: the job fails, the log says why
                traceback.print_exc()
                self._end(job_id, "FAILED", 1, 0)

    def _node_failed(self, job_id: int, kind: str, node: str) -> None:
        """Inside the scheduling transaction: a node of running job ``job_id`` went down (real 22.05: an srun job
        ends NODE_FAIL, ExitCode 0:15; a batch job gets ``*** JOB N ON n1 CANCELLED ... DUE TO NODE FAILURE ...``
        in its output and is requeued, Restarts+1)."""
        if kind == "batch":
            write_stop_message(self.conn, job_id, nodestate.NODE_FAILURE)
            self.conn.execute("UPDATE jobs SET state='PENDING', reason='BeginTime', restarts=restarts+1, "
                              "start_time=NULL, end_time=NULL, nodelist='', alloc='', fault='' WHERE id=?", (job_id,))
        else:
            self.conn.execute("UPDATE jobs SET state='NODE_FAIL', reason='NodeDown', exit_code=0, signal=15, "
                              "end_time=?, fault=? WHERE id=?", (time.time(), f"nodedown:{node}", job_id))

    def _reason(self, row: Any, reason: str) -> None:
        """Set a pending job's reason; a waiting srun is told, so it can say it is queued."""
        cur = self.conn.execute("UPDATE jobs SET reason=? WHERE id=? AND reason IS NOT ?", (reason, row[0], reason))
        if cur.rowcount and row[2] == "srun":
            self.told.append(row[13])

    def _start(self, job_id: int, kind: str, started: float) -> None:
        row = self.conn.execute("SELECT time_limit, fault, pid, waiter FROM jobs WHERE id=?", (job_id,)).fetchone()
        limit, fault = row[0], row[1] or ""
        fkind, _, fvalue = fault.partition(":")
        if fkind in ("timeout", "preempt") or (fkind == "nodefail" and float(fvalue or 0) > 0):
            heapq.heappush(self.timers, (started + float(fvalue or 0), job_id,
                                         {"timeout": "limit"}.get(fkind, fkind), started))
        elif limit is not None:
            heapq.heappush(self.timers, (started + limit, job_id, "limit", started))
        if kind == "srun":
            self.watch(job_id, row[2], "srun")
            common.notify(common.waiter_address(self.root, row[2]))
            return
        self._start_batch(job_id, fkind, fvalue)

    def _start_batch(self, job_id: int, fkind: str, fvalue: str) -> None:
        r = self.conn.execute("SELECT workdir, stdout, stderr, script, name, args FROM jobs WHERE id=?",
                              (job_id,)).fetchone()
        workdir = r[0] if os.path.isdir(r[0]) else "/tmp"
        first_node = self.conn.execute("SELECT alloc FROM jobs WHERE id=?", (job_id,)).fetchone()[0].split(":")[0]
        out = expand_path(r[1], job_id, r[4], first_node, workdir)
        err = expand_path(r[2], job_id, r[4], first_node, workdir) if r[2] else out
        spool = os.path.join(self.root, "spool", f"job{job_id:05d}")
        os.makedirs(spool, exist_ok=True)
        script = os.path.join(spool, "slurm_script")
        with open(script, "wb") as fh:
            fh.write(bytes(r[3]))
        os.chmod(script, 0o700)
        restarts = self.conn.execute("SELECT restarts FROM jobs WHERE id=?", (job_id,)).fetchone()[0]
        mode = "ab" if restarts else "wb"  # --open-mode=truncate, SLURM's default; a requeued job appends
        try:
            fout = open(out, mode)
            ferr = open(err, mode) if err != out else fout
        except OSError:
            self._end(job_id, "FAILED", 1, 0)
            return
        with fout, ferr:
            if fkind in ("exit", "no_output") or (fkind == "nodefail" and not float(fvalue or 0)):
                code, sig, state = (int(fvalue or 1), 0, "FAILED") if fkind == "exit" else (
                    (0, 9, "FAILED") if fkind == "no_output" else (0, 0, "NODE_FAIL"))
                self._end(job_id, state, code, sig)
                return
            env = batch_environment(self.conn, job_id)
            try:
                program, argv = script, [script, *db.unpack(r[5])]
                if db.meta(self.conn, hostnames.META_KEY) == "1":  # the batch script runs on its first node
                    program, argv = hostnames.wrap(first_node, script, argv, env, self.root)
                popen = subprocess.Popen(argv, executable=program, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=fout,
                                         stderr=ferr, start_new_session=True, close_fds=True)
            except OSError as exc:
                ferr.write(f"slurmstepd-{first_node}: error: execve(): {script}: {exc.strerror}\n".encode())
                self._end(job_id, "FAILED", 1 if exc.errno != 8 else 2, 0)
                return
        with db.write(self.conn):
            self.conn.execute("UPDATE jobs SET pid=? WHERE id=?", (popen.pid, job_id))
        self.watch(job_id, popen.pid, "batch", popen)

    def _end(self, job_id: int, state: str, code: int, sig: int) -> None:
        reason = {"FAILED": "NonZeroExitCode", "NODE_FAIL": "NodeDown"}.get(state, "None")
        with db.write(self.conn):
            self.conn.execute("UPDATE jobs SET state=?, exit_code=?, signal=?, end_time=?, reason=? WHERE id=?",
                              (state, code, sig, time.time(), reason, job_id))

    # --- stopping the cluster ------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop every job's processes (SIGTERM, then SIGKILL after KILL_WAIT) and mark active jobs CANCELLED.

        The cluster is marked stopped first, so a command that runs meanwhile (an srun ending) does not start
        a new controller.
        """
        with db.write(self.conn):
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES('stopped', '1')")
            waiting = [r[0] for r in self.conn.execute(
                "SELECT pid FROM jobs WHERE state='PENDING' AND kind='srun'")]
            self.conn.execute("UPDATE jobs SET state='CANCELLED', signal=15, end_time=? "
                              "WHERE state IN ('PENDING','RUNNING')", (time.time(),))
        for pid in waiting:  # an srun waiting for resources sees its job cancelled and exits
            common.notify(common.waiter_address(self.root, pid))
        pgids = [r[0] for r in self.conn.execute("SELECT pgid FROM steps WHERE state='RUNNING'")]
        for w in self.watched.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if w.kind == "batch":
                    os.killpg(w.pid, signal.SIGTERM)
                else:
                    os.kill(w.pid, signal.SIGTERM)
        for pgid in pgids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGTERM)
        deadline = time.time() + KILL_WAIT
        while self.watched and time.time() < deadline:
            for key, _ in self.sel.select(deadline - time.time()):
                if key.data == "pid":
                    w = self.watched.pop(key.fd)
                    self.sel.unregister(key.fd)
                    os.close(key.fd)
                    if w.popen is not None:
                        w.popen.wait()
        for w in self.watched.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(w.pid, signal.SIGKILL) if w.kind == "batch" else os.kill(w.pid, signal.SIGKILL)
            if w.popen is not None:
                w.popen.wait()
        for pgid in pgids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)


def _indices(names: str | None) -> tuple[int, ...]:
    """``"n1,n3"`` -> (0, 2)."""
    return tuple(int(n[1:]) - 1 for n in (names or "").split(",") if n)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover
        return True


def main(root: str, owner: int) -> int:
    """Run the controller of ``root`` unless one already runs (the lock file says so)."""
    lock = open(os.path.join(root, "slurmctld.lock"), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    controller = Controller(root, owner)
    if owner:  # started by MockSlurm.__enter__, which waits for this line (the socket is bound now)
        os.write(1, b"ready\n")
    try:
        return controller.run()
    except SystemExit:
        controller.shutdown()
        return 0
