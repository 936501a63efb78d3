"""The test-control API of :class:`MockSlurm`: read the job table and the call log, hold jobs, inject faults.

Everything goes through the cluster database (short transactions) and a wake-up of the controller, so it
works the same from the test process, an xdist worker, or ``xlib mock-env``'s shell.  Nothing is random:
a held job stays PENDING (Reason ``JobHeldUser``) until :meth:`ControlAPI.release`; a fault applies when the
job starts (or ``after`` seconds later for ``timeout`` / ``preempt``).

Fault kinds (:data:`FAULTS`): ``exit`` (the job ends FAILED with exit code ``value`` without running),
``nodefail`` (NODE_FAIL after ``value`` s, default at once; ``srun: error: Node failure on n1``, rc 143), ``timeout`` (TIMEOUT after ``value`` s,
default at once), ``preempt`` (a batch job is requeued after ``value`` s and runs again), ``no_output`` (the job
dies by SIGKILL before writing anything), ``reject`` (only with :meth:`fault_next`: ``sbatch``/``srun`` fail
with ``Batch job submission failed: <value>`` / ``Unable to allocate resources: <value>``, rc 1, no job id used).

Nodes: :meth:`ControlAPI.node_down` / :meth:`ControlAPI.node_resume` take a node down and bring it back, with
real SLURM's consequences (see :mod:`.nodestate`); :meth:`ControlAPI.nodes` reads every node's state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any

from pytest_executorlib.mocks.slurm import common, db, jobtable, nodestate
from pytest_executorlib.mocks.slurm.shape import Shape

FAULTS = ("exit", "nodefail", "timeout", "preempt", "no_output", "reject")
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY")


@dataclass(frozen=True)
class Job:
    """One row of the job table (what ``scontrol show job`` knows)."""

    id: int
    name: str
    kind: str  # "batch" (sbatch) or "srun"
    state: str  # PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL
    reason: str
    partition: str
    ntasks: int
    cpus_per_task: int
    nodelist: str
    exit_code: int
    signal: int
    workdir: str
    command: str
    dependency: str
    held: bool
    restarts: int
    time_limit: int | None  # seconds
    submit_time: float
    start_time: float | None
    end_time: float | None


@dataclass(frozen=True)
class Call:
    """One command call: ``Call("sbatch", ["--parsable", "run.sh"], cwd, job)`` (job: caller's SLURM_JOB_ID)."""

    command: str
    argv: list[str]
    cwd: str
    job: str
    time: float


class ControlAPI:
    """Mixed into :class:`MockSlurm`; needs ``self.root`` (the cluster directory)."""

    root: Any

    def _conn(self) -> Any:
        return db.connect(str(self.root))

    def _wake(self) -> None:
        cluster = common.Cluster(str(self.root), "control")
        try:
            cluster.wake()
        finally:
            cluster.conn.close()

    # --- reading -------------------------------------------------------------------------------------------
    def jobs(self) -> list[Job]:
        """Every job ever submitted to this cluster (purged ones included), in id order."""
        conn = self._conn()
        try:
            rows = conn.execute(f"SELECT {', '.join(jobtable.COLUMNS)} FROM jobs ORDER BY id").fetchall()
        finally:
            conn.close()
        return [_job(dict(zip(jobtable.COLUMNS, r))) for r in rows]

    def job(self, job_id: int) -> Job:
        """The job ``job_id``; KeyError naming the known ids when there is none."""
        for j in self.jobs():
            if j.id == job_id:
                return j
        raise KeyError(f"MockSlurm: no job {job_id}; known jobs: {[j.id for j in self.jobs()]}")

    def calls(self, command: str | None = None) -> list[Call]:
        """The call log: every mock command run against this cluster, in order (``command`` filters)."""
        conn = self._conn()
        try:
            sql = "SELECT command, argv, cwd, job, time FROM calls"
            rows = conn.execute(sql + (" WHERE command=?" if command else "") + " ORDER BY seq",
                                (command,) if command else ()).fetchall()
        finally:
            conn.close()
        return [Call(c, db.unpack(a) if a else [], cwd, job, t) for c, a, cwd, job, t in rows]

    def wait(self, job_id: int, timeout: float = 60.0, until: Callable[[Job], bool] | None = None) -> Job:
        """Block until job ``job_id`` has ended (or ``until(job)`` is true); TimeoutError quoting its state and
        reason otherwise.

        The job table lives in a file shared with other processes, so this polls it -- at a bounded rate
        with backoff (5 ms doubling to 100 ms).
        """
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            job = self.job(job_id)
            if (until(job) if until is not None else job.state in TERMINAL):
                return job
            if time.monotonic() >= deadline:
                raise TimeoutError(f"MockSlurm: job {job_id} still {job.state} (Reason={job.reason}) after {timeout} s")
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    # --- holding ---------------------------------------------------------------------------------------
    def hold_new_jobs(self, hold: bool = True) -> None:
        """From now on, every submitted job stays PENDING (Reason=JobHeldUser) until released."""
        self._update("INSERT OR REPLACE INTO meta VALUES('hold_new', ?)", ("1" if hold else "0",))

    def hold(self, job_id: int) -> None:
        """Hold a PENDING job (as ``scontrol hold``)."""
        self._update("UPDATE jobs SET hold=1, reason='JobHeldUser' WHERE id=? AND state='PENDING'", (job_id,))

    def release(self, job_id: int | None = None) -> None:
        """Release one held job, or all of them (``None``); they start when resources allow."""
        if job_id is None:
            self._update("UPDATE jobs SET hold=0 WHERE hold=1", ())
        else:
            self._update("UPDATE jobs SET hold=0 WHERE id=?", (job_id,))

    # --- faults ----------------------------------------------------------------------------------------
    def fault(self, job_id: int, kind: str, value: float | int | str | None = None) -> None:
        """Inject a fault into a PENDING job (hold it first): it applies when the job starts."""
        text = _fault_text(kind, value, next_job=False)
        self._update("UPDATE jobs SET fault=? WHERE id=?", (text, job_id))

    def fault_next(self, kind: str, value: float | int | str | None = None, command: str = "any") -> None:
        """Inject a fault into the next job submitted by ``command`` (``"sbatch"``, ``"srun"`` or ``"any"``)."""
        if command not in ("any", "sbatch", "srun"):
            raise ValueError(f"MockSlurm.fault_next: command must be 'any', 'sbatch' or 'srun', got {command!r}")
        text = _fault_text(kind, value, next_job=True)
        self._update("INSERT INTO next_faults(command, fault) VALUES(?, ?)", (command, text))

    # --- nodes -------------------------------------------------------------------------------------------
    def node_down(self, node: str, reason: str = "xlib test", drain: bool = False) -> None:
        """Take ``node`` (``"n2"``, or a host list ``"n[2-3]"``) down, as ``scontrol update nodename=n2
        state=down reason=...``: jobs running on it end at once (an srun: NODE_FAIL, ``srun: error: Node failure
        on n2``, rc 143; a batch job is requeued), no job starts there until :meth:`node_resume`.
        ``drain=True``: ``state=drain`` instead (running jobs finish, no new one starts there)."""
        names = self._node_names(node)
        if not reason:
            raise ValueError("MockSlurm.node_down: a reason is required (SLURM refuses to down a node without one)")
        conn = self._conn()
        try:
            nodestate.update(conn, names, "drain" if drain else "down", f"{reason} [{common.user()}@{common.iso(time.time())}]")
        finally:
            conn.close()
        self._wake()

    def node_resume(self, node: str) -> None:
        """Bring ``node`` back (``scontrol update nodename=n2 state=resume``); waiting jobs may start on it."""
        names = self._node_names(node)
        conn = self._conn()
        try:
            nodestate.update(conn, names, "resume", "")
        finally:
            conn.close()
        self._wake()

    def nodes(self) -> dict[str, str]:
        """Every node's state as ``sinfo -N`` prints it: ``{"n1": "idle", "n2": "down", "n3": "mix"}``."""
        from pytest_executorlib.mocks.slurm.commands.sinfo import node_states

        cluster = common.Cluster(str(self.root), "control")
        try:
            return node_states(cluster)[1]
        finally:
            cluster.conn.close()

    def _node_names(self, node: str) -> list[str]:
        known = Shape.decode(self._meta("shape")).node_names
        try:
            names = nodestate.expand(node)
        except ValueError:
            names = []
        if not names or any(n not in known for n in names):
            raise ValueError(f"MockSlurm: unknown node {node!r}; this cluster has {common.nodelist(known)}")
        return names

    def _meta(self, key: str) -> str:
        conn = self._conn()
        try:
            return db.meta(conn, key)
        finally:
            conn.close()

    def _update(self, sql: str, params: tuple[Any, ...]) -> None:
        conn = self._conn()
        try:
            with db.write(conn):
                conn.execute(sql, params)
        finally:
            conn.close()
        self._wake()


def _fault_text(kind: str, value: float | int | str | None, next_job: bool) -> str:
    if kind not in FAULTS or (kind == "reject" and not next_job):
        accepted = FAULTS if next_job else FAULTS[:-1]
        raise ValueError(f"MockSlurm: unknown fault {kind!r}; accepted: {', '.join(accepted)}")
    if kind == "reject":
        return f"reject:{value or 'Unspecified error'}"
    if kind == "exit":
        code = 1 if value is None else int(value)
        if not 1 <= code <= 255:
            raise ValueError(f"MockSlurm: an exit fault needs an exit code 1..255, got {value!r}")
        return f"exit:{code}"
    if kind in ("timeout", "preempt", "nodefail"):
        return f"{kind}:{float(value or 0)}"
    return kind


def _job(r: dict[str, Any]) -> Job:
    return Job(
        id=r["id"], name=r["name"], kind=r["kind"], state=r["state"], reason=r["reason"], partition=r["partition"],
        ntasks=r["ntasks"], cpus_per_task=r["cpus_per_task"], nodelist=r["nodelist"] or "", exit_code=r["exit_code"],
        signal=r["signal"], workdir=r["workdir"], command=r["command"] or "", dependency=r["dependency"] or "",
        held=bool(r["hold"]), restarts=r["restarts"], time_limit=r["time_limit"], submit_time=r["submit_time"],
        start_time=r["start_time"], end_time=r["end_time"],
    )
