"""The mock flux broker: one process per instance that schedules jobs, runs their tasks and writes eventlogs.

Event-driven, never sleep-polling: one ``selectors`` wait on

* its datagram socket (:func:`state.broker_address`): a client that submitted, cancelled or raised sends one
  byte, meaning "run a scheduling pass";
* one pidfd per task (its exit) and each rank's PMI socket;
* the pidfd of the instance's owner (``MockFlux``'s process) or the initial program (``flux start CMD``):
  when it ends, the instance shuts down (every job is cancelled and its tasks stopped);
* the next timer: time limits (``exception type=timeout``, SIGALRM, as flux's job-exec), and the SIGKILL that
  follows a SIGTERM/SIGALRM after :data:`KILL_WAIT` seconds.

Each pass runs :func:`sched.schedule` in one short write transaction; the broker then starts the allocated
jobs (:mod:`.launch`), posts their ``start`` events and wakes every registered watcher once.  When a job's
last task has exited it posts ``finish`` (the highest task exit code as a wait status, 128+n for a signal),
``release``, ``free`` and ``clean``.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
import traceback
from typing import Any

from pytest_executorlib.mocks.flux import launch, resources, sched, state

#: Seconds between the SIGTERM/SIGALRM that stops a job's tasks and the SIGKILL (flux: kill-timeout=5s).
KILL_WAIT = 2.0
#: Environment variables the broker removes from its initial program (fc ``src/broker/runat.c``).
BLOCKLIST = ("FLUX_JOB_ID", "FLUX_JOB_SIZE", "FLUX_JOB_NNODES", "FLUX_JOB_TMPDIR", "FLUX_KVS_NAMESPACE",
             "XLIB_MOCK_FLUX_ALLOC")
BLOCK_PREFIXES = ("FLUX_TASK_", "PMI_", "PMIX_", "SLURM_")


class Broker:
    def __init__(self, root: str, owner: int = 0) -> None:
        self.root = root
        self.conn = state.connect(root)
        self.shape = resources.Shape.decode(state.meta(self.conn, "shape"))
        self.uri = "local://" + os.path.join(root, state.URI_NAME)
        self.shim = state.meta(self.conn, "flux_shim", "flux")
        self.cwd = os.getcwd()
        self.sel = selectors.DefaultSelector()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(state.broker_address(root))
        self.sock.setblocking(False)
        self.sel.register(self.sock, selectors.EVENT_READ, ("wake", 0))
        if owner:
            self.sel.register(os.pidfd_open(owner), selectors.EVENT_READ, ("owner", 0))
        self.running: dict[int, launch.Running] = {}
        self.task_fds: dict[int, tuple[int, int]] = {}  # pidfd -> (jobid, pid)
        self.timers: list[tuple[float, int, str]] = []  # (deadline, jobid, "limit" | "kill" | "nodefail")
        self.last_seq = 0
        self.program: subprocess.Popen[bytes] | None = None
        self.program_rc: int | None = None

    # --- main loop ---------------------------------------------------------------------------------------
    def serve(self, program: list[str] | None = None) -> int:
        """Run until the owner or the initial program ends (or the instance is stopped); the program's rc."""
        with open(os.path.join(self.root, state.URI_NAME), "w"):
            pass
        if program is not None:
            self._start_program(program)
        else:
            os.write(1, b"ready\n")
        done = False
        while not done:
            if state.meta(self.conn, "stopped") == "1":
                break
            try:
                self.schedule()
            except Exception:  # logged; the database is the truth, the next wake-up tries again
                traceback.print_exc()
            timeout = max(self.timers[0][0] - time.time(), 0) if self.timers else None
            for key, _ in self.sel.select(timeout):
                if self.sel.get_map().get(key.fd) is not key:
                    continue  # unregistered by an earlier event of this batch
                kind, arg = key.data
                if kind == "wake":
                    with contextlib.suppress(BlockingIOError):
                        while self.sock.recv(64):
                            pass
                elif kind == "owner":
                    done = True
                elif kind == "program":
                    self.program_rc = self._reap(key.fd, arg)
                    done = True
                elif kind == "task":
                    self._task_exited(key.fd)
                elif kind == "pmi":
                    run = self.running.get(arg)
                    if run is None or run.pmi is None or key.fd not in run.pmi.socks or not run.pmi.handle(key.fd):
                        with contextlib.suppress(KeyError, ValueError):
                            self.sel.unregister(key.fd)
                        if run is not None and run.pmi is not None:
                            run.pmi.close(key.fd)
            self._fire_timers()
        self.shutdown()
        return self.program_rc or 0

    def _start_program(self, program: list[str]) -> None:
        env = {k: v for k, v in os.environ.items() if k not in BLOCKLIST and not k.startswith(BLOCK_PREFIXES)}
        env["FLUX_URI"] = self.uri
        env.setdefault("FLUX_START_URI", "local://" + os.path.join(self.root, "start"))
        if "FLUX_ENCLOSING_ID" in os.environ:
            env["FLUX_ENCLOSING_ID"] = os.environ["FLUX_ENCLOSING_ID"]
        self.program = subprocess.Popen(program, env=env)
        self.program_started = time.time()
        self.sel.register(os.pidfd_open(self.program.pid), selectors.EVENT_READ, ("program", self.program.pid))

    def _reap(self, fd: int, pid: int) -> int:
        self.sel.unregister(fd)
        os.close(fd)
        assert self.program is not None
        rc = self.program.wait()
        return 128 - rc if rc < 0 else rc

    # --- scheduling --------------------------------------------------------------------------------------
    def schedule(self) -> None:
        with state.write(self.conn):
            acts = sched.schedule(self.conn, self.shape)
        for jobid in acts.start:
            self._start_job(jobid)
        for jobid, sig in acts.stop:
            self._signal(jobid, sig)
            heapq.heappush(self.timers, (time.time() + KILL_WAIT, jobid, "kill"))
        for jobid, sig in acts.kill:
            self._signal(jobid, sig)
        self._wake_watchers()

    def _wake_watchers(self) -> None:
        seq = self.conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
        if seq != self.last_seq:
            self.last_seq = seq
            state.wake_watchers(self.conn)

    def _start_job(self, jobid: int) -> None:
        cols = ("id", "name", "jobspec", "alloc", "fault", "duration", "t_run")
        row = dict(zip(cols, self.conn.execute(f"SELECT {', '.join(cols)} FROM jobs WHERE id=?", (jobid,)).fetchone()))
        row["jobspec"], row["alloc"] = json.loads(row["jobspec"]), json.loads(row["alloc"])
        fault, _, value = (row["fault"] or "").partition(":")
        if fault in ("exit", "no_output"):
            with state.write(self.conn):
                sched.post(self.conn, jobid, "start")
                sched.finish(self.conn, jobid, (int(value or 1) if fault == "exit" else 128 + 9) << 8)
            return
        try:
            run = launch.start(self.root, self.uri, self.shim, row, self.shape, self.cwd)
        except launch.StartError as exc:
            self._exec_failed(row, str(exc))
            return
        except Exception:  # a bug must not stop the instance: the job fails, the log says why
            traceback.print_exc()
            self._exec_failed(row, "start failed: internal error of the mock flux (see broker.log)")
            return
        self.running[jobid] = run
        for pid in run.pids:
            fd = os.pidfd_open(pid)
            self.task_fds[fd] = (jobid, pid)
            self.sel.register(fd, selectors.EVENT_READ, ("task", jobid))
        if run.pmi is not None:
            for fd in run.pmi.socks:
                self.sel.register(fd, selectors.EVENT_READ, ("pmi", jobid))
        with state.write(self.conn):  # the pgid lets MockFlux stop the tasks of a broker that was killed
            self.conn.execute("UPDATE jobs SET pgid=? WHERE id=?", (run.pgid, jobid))
            sched.post(self.conn, jobid, "start")
        limit = float(value or 0) if fault == "timeout" else float(row["duration"] or 0)
        if fault == "timeout" or limit > 0:
            heapq.heappush(self.timers, (row["t_run"] + limit, jobid, "limit"))
        if fault == "nodefail":
            heapq.heappush(self.timers, (row["t_run"] + float(value or 0), jobid, "nodefail"))

    def _exec_failed(self, row: dict[str, Any], note: str) -> None:
        """A task could not start: the shell's FATAL line in the job's stderr, ``type=exec``, exit code 127."""
        err = os.path.join(self.root, "out", f"{row['id']}.err")
        path = row["jobspec"].get("attributes", {}).get("system", {}).get("shell", {}).get("options", {}).get(
            "output", {})
        target = (path.get("stderr") or path.get("stdout") or {}).get("path")
        if target:
            cwd = row["jobspec"]["attributes"]["system"].get("cwd") or self.cwd
            err = os.path.join(cwd, launch.render(target, row["id"], row["name"]))
        with contextlib.suppress(OSError), open(err, "a") as fh:
            fh.write(f"flux-shell[0]: FATAL: {note}\n")
        with state.write(self.conn):
            sched.post(self.conn, row["id"], "start")
            sched.raise_exception(self.conn, row["id"], "exec", 0, note, "RUN")
            sched.finish(self.conn, row["id"], 127 << 8)

    def _signal(self, jobid: int, sig: int) -> None:
        run = self.running.get(jobid)
        if run is not None and run.pgid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(run.pgid, sig)

    # --- processes and timers ------------------------------------------------------------------------------
    def _task_exited(self, fd: int) -> None:
        jobid, pid = self.task_fds.pop(fd)
        self.sel.unregister(fd)
        os.close(fd)
        _, status = os.waitpid(pid, 0)
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
        run = self.running[jobid]
        run.pids.pop(pid, None)
        run.codes.append(code)
        if run.pids:
            return
        if run.pgid:  # what the tasks left behind in their group goes too
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(run.pgid, signal.SIGKILL)
        if run.pmi is not None:
            for pfd in list(run.pmi.socks):
                with contextlib.suppress(KeyError, ValueError):
                    self.sel.unregister(pfd)
        launch.stop(run)
        del self.running[jobid]
        with state.write(self.conn):
            sched.finish(self.conn, jobid, max(run.codes) << 8)

    def _fire_timers(self) -> None:
        now = time.time()
        while self.timers and self.timers[0][0] <= now:
            _, jobid, kind = heapq.heappop(self.timers)
            if jobid not in self.running:
                continue
            if kind == "kill":
                self._signal(jobid, signal.SIGKILL)
                continue
            exc_type, note = (("timeout", "resource allocation expired") if kind == "limit" else
                              ("exec", "lost contact with job shell on broker (rank 0)"))
            with state.write(self.conn):
                sched.raise_exception(self.conn, jobid, exc_type, 0, note, "RUN")
            self._signal(jobid, signal.SIGALRM if kind == "limit" else signal.SIGKILL)
            heapq.heappush(self.timers, (now + KILL_WAIT, jobid, "kill"))
        self._wake_watchers()

    # --- shutdown --------------------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Cancel every job, stop the tasks (SIGTERM, SIGKILL after KILL_WAIT), remove the URI file; idempotent."""
        if getattr(self, "_shut", False):
            return
        self._shut = True
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.root, state.URI_NAME))
        with state.write(self.conn):
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES('stopped', '1')")
            for jobid, st in self.conn.execute(f"SELECT id, state FROM jobs WHERE state IN {state.ACTIVE}").fetchall():
                if st == "NEW":
                    sched.post(self.conn, jobid, "validate")
                sched.raise_exception(self.conn, jobid, "cancel", 0, "instance shutdown", st)
        for jobid in list(self.running):
            self._signal(jobid, signal.SIGTERM)
        deadline = time.time() + KILL_WAIT
        while self.task_fds and time.time() < deadline:
            for key, _ in self.sel.select(max(deadline - time.time(), 0)):
                if key.data[0] == "task":
                    self._task_exited(key.fd)
        for jobid in list(self.running):
            self._signal(jobid, signal.SIGKILL)
        while self.task_fds:
            self._task_exited(next(iter(self.task_fds)))
        self._wake_watchers()
        state.wake_watchers(self.conn)
        if self.program is not None and self.program.poll() is None:  # stopped by a signal: end CMD too
            self.program.terminate()
            try:
                self.program.wait(KILL_WAIT)
            except subprocess.TimeoutExpired:
                self.program.kill()
                self.program.wait()


def main(root: str, owner: int) -> int:
    """Entry point of a broker process started by ``MockFlux`` (``python -I -S -c ...``)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    broker = Broker(root, owner)
    try:
        return broker.serve()
    except SystemExit:
        broker.shutdown()
        return 0
