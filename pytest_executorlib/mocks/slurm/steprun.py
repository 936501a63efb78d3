"""Running one job step inside the mock ``srun``: start the tasks, serve PMI, report their end as SLURM does.

One process group per step (the first task leads it), so a signal reaches every task.  One ``selectors``
wait covers: a pidfd per task (its exit), each rank's PMI socket, and the srun's own datagram socket on which
the controller says "look at your job" (scancel, time limit, node failure, preemption).  srun's exit status is
the highest task exit code, 128+n for a signal, and its stderr lines are SLURM 22.05's
(``srun: error: n1: task 0: Exited with exit code 3``, ``slurmstepd-n1: error: *** STEP 5.0 ON n1 CANCELLED AT
... ***``, ``srun: Force Terminated StepId=5.0``).
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import time
TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a command ~10 ms
if TYPE_CHECKING:
    from typing import Any

from pytest_executorlib.mocks.slurm import common, db
from pytest_executorlib.mocks.slurm.jobstart import job_environment, tasks_per_node
from pytest_executorlib.mocks.slurm.pmi import PMIServer
from pytest_executorlib.mocks.slurm.stepreport import announce, say, report

KILL_WAIT = 2.0  # seconds between SIGTERM and SIGKILL when the step is stopped
DRAIN_WAIT = 1.0  # seconds srun still forwards output after the last task ended (a leftover holding the pipe)
_DEFAULT_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)


class Step:
    """One step to run: its job, id, command, placement ``[(node, cpus, gpus, tasks)]`` and MPI type."""

    def __init__(self, job: dict[str, Any], step_id: int, argv: list[str], placement: list[tuple[str, int, int, int]],
                 mpi: str, kill_on_bad_exit: bool, sock: Any = None) -> None:
        self.job = job
        self.step_id = step_id
        self.argv = argv
        self.placement = placement
        self.mpi = mpi
        self.kill_on_bad_exit = kill_on_bad_exit
        self.label = False  # srun -l: "<rank>: " before every output line
        self.sock = sock  # srun's wake-up socket (job mode), None for a step inside an allocation
        self.codes: dict[int, tuple[int, int]] = {}  # rank -> (exit code, signal)


def _which(program: str, path: str) -> str | None:
    if "/" in program:
        return program if os.path.exists(program) else None
    for d in path.split(":"):
        candidate = os.path.join(d or ".", program)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _task_envs(step: Step) -> list[tuple[str, dict[str, str]]]:
    """(node, environment) of every rank."""
    job = step.job
    base = dict(job["env"])
    base.update(job_environment(job))
    n = sum(p[3] for p in step.placement)
    names = [p[0] for p in step.placement]
    counts = [p[3] for p in step.placement]
    step_nodes = common.nodelist(names)
    base.update({
        "SLURM_STEP_ID": str(step.step_id), "SLURM_STEPID": str(step.step_id), "SLURM_NTASKS": str(n),
        "SLURM_NPROCS": str(n), "SLURM_STEP_NUM_TASKS": str(n), "SLURM_STEP_NUM_NODES": str(len(names)),
        "SLURM_STEP_NODELIST": step_nodes, "SLURM_STEP_TASKS_PER_NODE": tasks_per_node(counts),
        "SLURM_TASKS_PER_NODE": tasks_per_node(counts) if job["kind"] == "srun" else base["SLURM_TASKS_PER_NODE"],
        "SLURM_SRUN_COMM_HOST": "127.0.0.1", "SLURM_LAUNCH_NODE_IPADDR": "127.0.0.1",
        "SLURM_SRUN_COMM_PORT": "0", "SLURM_STEP_LAUNCHER_PORT": "0", "SLURM_PRIO_PROCESS": "0",
        "SLURM_WORKING_CLUSTER": f"{common.CLUSTER_NAME}:127.0.0.1:6817:9728:109",
        "SLURM_UMASK": "0022", "SLURM_MPI_TYPE": step.mpi,
        "PMI_SIZE": str(n), "PMI_JOBID": f"{job['id']}.{step.step_id}",
    })
    if step.mpi == "none":
        for key in ("PMI_SIZE", "PMI_JOBID"):
            del base[key]
    out = []
    rank = 0
    for node_id, (node, cpus, gpus, tasks) in enumerate(step.placement):
        gtids = ",".join(str(r) for r in range(rank, rank + tasks))
        for local in range(tasks):
            env = dict(base)
            env.update({"SLURM_PROCID": str(rank), "SLURM_LOCALID": str(local), "SLURM_NODEID": str(node_id),
                        "SLURMD_NODENAME": node, "SLURM_GTIDS": gtids, "SLURM_CPUS_ON_NODE": str(cpus),
                        "SLURM_TOPOLOGY_ADDR": node})
            if step.mpi != "none":
                env["PMI_RANK"] = str(rank)
            if gpus:
                per = gpus // max(tasks, 1)
                env["CUDA_VISIBLE_DEVICES"] = ",".join(str(local * per + g) for g in range(per))
            out.append((node, env))
            rank += 1
    return out


def _mapping(placement: list[tuple[str, int, int, int]]) -> str:
    counts = [p[3] for p in placement]
    if len(set(counts)) == 1:
        return f"(vector,(0,{len(counts)},{counts[0]}))"
    return "(vector," + ",".join(f"({i},1,{c})" for i, c in enumerate(counts)) + ")"


def run(cluster: common.Cluster, step: Step, stdout: int | None, stderr: int | None) -> int:
    """Start the step's tasks, wait for them, and return srun's exit status."""
    envs = _task_envs(step)
    nodes = [node for node, _ in envs]
    sel = selectors.DefaultSelector()
    # MPICH names its shared-memory segments after the kvsname, and a rank killed by a signal leaves its segment
    # in /dev/shm.  Job ids restart at 1 in every mock cluster, so a kvsname of job and step alone would meet
    # such a stale segment in a later cluster (MPI_Init then fails with "Message truncated"): add a nonce.
    kvsname = f"kvs_{step.job['id']}_{step.step_id}_{os.urandom(4).hex()}"
    pmi = PMIServer(len(envs), kvsname, _mapping(step.placement))
    pgid = 0
    running: dict[int, tuple[int, int]] = {}  # pidfd -> (rank, pid)
    forward: dict[int, tuple[int, bytes]] = {}  # read end of a task's stdout/stderr pipe -> (1 or 2, partial line)
    stdin_copies: list[int] = []  # write ends of the tasks' stdin pipes (several tasks)
    for rank, (node, env) in enumerate(envs):
        ours, theirs = socket.socketpair()
        if step.mpi != "none":
            env["PMI_FD"] = str(theirs.fileno())
            pmi.add(ours)
            sel.register(ours, selectors.EVENT_READ, ("pmi", rank))
        path = _which(step.argv[0], env.get("PATH", os.defpath))
        if path is None:
            say(f"slurmstepd-{node}: error: execve(): {step.argv[0]}: No such file or directory")
            step.codes[rank] = (2, 0)
            theirs.close()
            continue
        os.set_inheritable(theirs.fileno(), True)
        actions = []
        ends = []
        for target, given in ((1, stdout), (2, stderr)):
            if given is None:  # forwarded line by line, as slurmstepd does: ranks' lines never interleave
                read_end, write_end = os.pipe()
                ends.append(write_end)
                actions.append((os.POSIX_SPAWN_DUP2, write_end, target))
                sel.register(read_end, selectors.EVENT_READ, ("io", (target, rank)))
                forward[read_end] = (target, b"")
            else:
                actions.append((os.POSIX_SPAWN_DUP2, given, target))
        if len(envs) > 1:  # srun's stdin goes to every task (SLURM's default), copied through one pipe each
            stdin_read, stdin_write = os.pipe()
            os.set_blocking(stdin_write, False)
            stdin_copies.append(stdin_write)
            ends.append(stdin_read)
            actions.append((os.POSIX_SPAWN_DUP2, stdin_read, 0))
        try:
            pid = os.posix_spawn(path, step.argv, env, setpgroup=pgid, setsigdef=_DEFAULT_SIGNALS,
                                 file_actions=actions)
        except OSError as exc:
            say(f"slurmstepd-{node}: error: execve(): {step.argv[0]}: {exc.strerror}")
            step.codes[rank] = (2, 0)
            theirs.close()
            continue
        finally:
            for end in ends:
                os.close(end)
        theirs.close()
        if not pgid:
            pgid = pid
        fd = os.pidfd_open(pid)
        running[fd] = (rank, pid)
        sel.register(fd, selectors.EVENT_READ, ("task", rank))
    if pgid:
        with db.write(cluster.conn):
            cluster.conn.execute("INSERT OR REPLACE INTO steps VALUES(?,?,?,?,?, 'RUNNING')",
                                 (step.job["id"], step.step_id, os.getpid(), pgid, len(envs)))
    if stdin_copies:
        try:
            sel.register(0, selectors.EVENT_READ, ("stdin", 0))
        except (ValueError, OSError):  # no stdin, or one that cannot be waited on (a regular file is read below)
            _copy_stdin(stdin_copies, None)
    if step.sock is not None:
        sel.register(step.sock, selectors.EVENT_READ, ("ctl", 0))
        step.sock.sendto(b"w", step.sock.getsockname())  # look once now: the job may have ended while starting
    stopped: str | None = None
    kill_at: float | None = None
    interrupted: list[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        """srun got SIGINT/SIGTERM: as real srun, say so, stop the step and SIGKILL its tasks."""
        if interrupted:
            return
        interrupted.append(signum)
        say("srun: forcing job termination")
        announce(step, "", aborted=True)
        if pgid:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    drain_until: float | None = None
    try:
        while running or forward:
            if not running and drain_until is None:
                if pgid:  # the step is over: what its tasks left behind in the group goes too (proctrack)
                    try:
                        os.killpg(pgid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                drain_until = time.time() + DRAIN_WAIT
            deadlines = [t for t in (kill_at, drain_until) if t is not None]
            timeout = None if not deadlines else max(0.0, min(deadlines) - time.time())
            events = sel.select(timeout)
            if drain_until is not None and time.time() >= drain_until:
                break
            if kill_at is not None and time.time() >= kill_at and pgid:
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                kill_at = None
            for key, _ in events:
                kind, rank = key.data
                if kind == "task":
                    sel.unregister(key.fd)
                    _, pid = running.pop(key.fd)
                    os.close(key.fd)
                    _, status = os.waitpid(pid, 0)
                    step.codes[rank] = ((os.WEXITSTATUS(status), 0) if os.WIFEXITED(status)
                                        else (0, os.WTERMSIG(status)))
                    if step.kill_on_bad_exit and step.codes[rank] != (0, 0) and running and kill_at is None:
                        say(f"srun: launch/slurm: _step_signal: Terminating StepId={step.job['id']}.{step.step_id}")
                        announce(step, "")
                        os.killpg(pgid, signal.SIGTERM)
                        kill_at = time.time() + KILL_WAIT
                elif kind == "stdin":
                    if not _copy_stdin(stdin_copies, sel):
                        sel.unregister(0)
                elif kind == "io":
                    target, task = rank
                    label = f"{task:>{len(str(len(envs) - 1))}}: ".encode() if step.label else b""
                    _forward(sel, forward, key.fd, target, label)
                elif kind == "pmi":
                    if not pmi.handle(key.fd):
                        sel.unregister(key.fd)
                        pmi.close(key.fd)
                else:
                    try:
                        while step.sock is not None and step.sock.recv(64):
                            pass
                    except BlockingIOError:
                        pass
                    why = _ended(cluster, step)
                    if why is not None and stopped is None:
                        stopped = why
                        announce(step, why)
                        if pgid:
                            try:
                                os.killpg(pgid, signal.SIGTERM)
                            except ProcessLookupError:
                                pass
                        kill_at = time.time() + KILL_WAIT
    finally:
        for fd in stdin_copies:
            os.close(fd)
        for fd, (target, rest) in forward.items():
            if rest:
                _write_all(target, rest)
            sel.unregister(fd)
            os.close(fd)
        for s, handler in old.items():
            signal.signal(s, handler)
        for fd in list(pmi.socks):
            pmi.close(fd)
    rc = report(step, nodes, stopped, force_line=not interrupted)
    if interrupted and step.sock is not None:
        with db.write(cluster.conn):
            cluster.conn.execute("UPDATE jobs SET state='CANCELLED', exit_code=0, signal=9, end_time=?, "
                                 "reason='None' WHERE id=? AND state='RUNNING'", (time.time(), step.job["id"]))
    with db.write(cluster.conn):
        cluster.conn.execute("UPDATE steps SET state=? WHERE job_id=? AND step_id=?",
                             ("COMPLETED" if rc == 0 else "FAILED", step.job["id"], step.step_id))
    return rc


def _forward(sel: selectors.BaseSelector, forward: dict[int, tuple[int, bytes]], fd: int, target: int,
             label: bytes) -> None:
    """Copy what a task wrote to srun's stdout/stderr, whole lines at a time (the rest at end of file);
    ``label`` (``srun -l``: ``"0: "``) starts every line."""
    try:
        data = os.read(fd, 65536)
    except OSError:
        data = b""
    if not data:
        _, rest = forward.pop(fd)
        sel.unregister(fd)
        os.close(fd)
        if rest:
            _write_all(target, label + rest)
        return
    buf = forward[fd][1] + data
    cut = buf.rfind(b"\n") + 1
    if cut:
        lines = buf[:cut]
        if label:
            lines = b"".join(label + line for line in lines.splitlines(keepends=True))
        _write_all(target, lines)
    forward[fd] = (target, buf[cut:])


def _copy_stdin(copies: list[int], sel: selectors.BaseSelector | None) -> bool:
    """Copy what srun reads on its stdin to every task; False (and the copies closed) at end of file.

    ``sel`` None: stdin cannot be waited on (a regular file): copy all of it now."""
    while True:
        try:
            data = os.read(0, 65536)
        except OSError:
            data = b""
        if not data:
            for fd in copies:
                os.close(fd)
            copies.clear()
            return False
        for fd in copies:
            try:
                os.write(fd, data)
            except OSError:  # a task that does not read (full pipe) or has exited loses its copy
                pass
        if sel is not None:
            return True


def _write_all(fd: int, data: bytes) -> None:
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError:  # srun's own output is gone (closed pipe): the task output is dropped, as SLURM does
        pass


def _ended(cluster: common.Cluster, step: Step) -> str | None:
    """Why the controller ended the job ("", "DUE TO TIME LIMIT", ...), or None while it still runs."""
    state = cluster.conn.execute("SELECT state FROM jobs WHERE id=?", (step.job["id"],)).fetchone()[0]
    return {"CANCELLED": "", "TIMEOUT": "DUE TO TIME LIMIT", "NODE_FAIL": "DUE TO NODE FAILURE",
            "PREEMPTED": "DUE TO PREEMPTION", "PENDING": "DUE TO PREEMPTION"}.get(state)


