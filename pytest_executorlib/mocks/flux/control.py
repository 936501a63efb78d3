"""The test-control API of :class:`MockFlux`, the same shape as the mock SLURM's: read the job table and the
call log, hold jobs, inject faults.

Everything goes through the instance database and a wake-up of the broker.  Nothing is random: a held job
(urgency 0, as ``flux job urgency ID hold``) stays ``S`` (INFO ``held``) until :meth:`ControlAPI.release`.

Fault kinds (:data:`FAULTS`): ``exit`` (the job starts and ends at once with exit code ``value``, result
FAILED), ``nodefail`` (``value`` s after start the shell is lost: ``exception type=exec`` "lost contact with
job shell on broker (rank 0)", tasks killed), ``timeout`` (``value`` s after start: ``exception type=timeout``
"resource allocation expired", SIGALRM, result TIMEOUT), ``no_output`` (the job dies as by SIGKILL before
writing anything: 137), ``reject`` (only with :meth:`fault_next`: the submission fails with
``OSError(EINVAL, value)``, no job id used).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pytest_executorlib.mocks.flux import state
from pytest_executorlib.mocks.flux.jobid import JobID
from pytest_executorlib.mocks.slurm.common import notify

FAULTS = ("exit", "nodefail", "timeout", "no_output", "reject")


@dataclass(frozen=True)
class Job:
    """One job of the instance (what ``flux jobs`` and ``flux.job.result`` know)."""

    id: JobID
    name: str
    state: str  # NEW DEPEND PRIORITY SCHED RUN CLEANUP INACTIVE
    result: str  # "" while active; COMPLETED FAILED CANCELED TIMEOUT
    urgency: int
    ntasks: int | None
    nnodes: int | None
    nodelist: str
    waitstatus: int | None
    exception: str  # type of the fatal exception, "" if none
    exception_note: str
    dependency: str
    held: bool
    jobspec: dict[str, Any]
    t_submit: float
    t_run: float
    t_inactive: float
    events: list[str]  # names in eventlog order


@dataclass(frozen=True)
class Call:
    """One ``flux`` command call: ``Call("flux", ["batch", "run.sh"], cwd, job)`` (job: caller's FLUX_JOB_ID)."""

    command: str
    argv: list[str]
    cwd: str
    job: str
    time: float


class ControlAPI:
    """Mixed into :class:`MockFlux`; needs ``self.root``."""

    root: Any

    def _conn(self) -> Any:
        return state.connect(str(self.root))

    def _wake(self) -> None:
        notify(state.broker_address(str(self.root)))

    def jobs(self) -> list[Job]:
        """Every job of the instance, in submission order."""
        conn = self._conn()
        try:
            cur = conn.execute("SELECT * FROM jobs ORDER BY id")
            cols = [d[0] for d in cur.description]
            rows = [dict(zip(cols, r)) for r in cur.fetchall()]
            events: dict[int, list[str]] = {}
            for jobid, name in conn.execute("SELECT jobid, name FROM events ORDER BY seq"):
                events.setdefault(jobid, []).append(name)
        finally:
            conn.close()
        return [_job(r, events.get(r["id"], [])) for r in rows]

    def job(self, jobid: int | str) -> Job:
        """The job ``jobid`` (any encoding); KeyError naming the known ids when there is none."""
        wanted = JobID(jobid)
        for j in self.jobs():
            if j.id == wanted:
                return j
        raise KeyError(f"MockFlux: no job {wanted}; known jobs: {[str(j.id) for j in self.jobs()]}")

    def calls(self, command: str | None = None) -> list[Call]:
        """The call log: every ``flux`` command run in this instance (``command`` filters on the subcommand)."""
        conn = self._conn()
        try:
            rows = conn.execute("SELECT command, argv, cwd, job, time FROM calls ORDER BY seq").fetchall()
        finally:
            conn.close()
        calls = [Call(c, state.unpack(a), cwd, job, t) for c, a, cwd, job, t in rows]
        return [c for c in calls if command is None or (c.argv[:1] == [command])]

    def wait(self, jobid: int | str, timeout: float = 60.0, until: Callable[[Job], bool] | None = None) -> Job:
        """Block until the job is INACTIVE (or ``until(job)``); TimeoutError quoting its state otherwise.

        Polls the database at a bounded rate with backoff (5 ms doubling to 100 ms).
        """
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            job = self.job(jobid)
            if until(job) if until is not None else job.state == "INACTIVE":
                return job
            if time.monotonic() >= deadline:
                raise TimeoutError(f"MockFlux: job {job.id} still {job.state} after {timeout} s "
                                   f"(events: {' '.join(job.events)})")
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def hold_new_jobs(self, hold: bool = True) -> None:
        """From now on every submitted job is held (urgency 0, ``S`` with INFO ``held``) until released."""
        self._update("INSERT OR REPLACE INTO meta VALUES('hold_new', ?)", ("1" if hold else "0",))

    def hold(self, jobid: int | str) -> None:
        """Hold a pending job (``flux job urgency ID hold``)."""
        self._request(jobid, "0")

    def release(self, jobid: int | str | None = None) -> None:
        """Release one held job, or all of them (``None``): urgency back to 16."""
        ids = [j.id for j in self.jobs() if j.held and j.state != "INACTIVE"] if jobid is None else [JobID(jobid)]
        for one in ids:
            self._request(one, "16")

    def _request(self, jobid: int | str, urgency: str) -> None:
        self._update("INSERT INTO requests(jobid, kind, arg) VALUES(?, 'urgency', ?)", (int(JobID(jobid)), urgency))

    def fault(self, jobid: int | str, kind: str, value: float | int | str | None = None) -> None:
        """Inject a fault into a pending job (hold it first): it applies when the job starts."""
        self._update("UPDATE jobs SET fault=? WHERE id=?", (_fault_text(kind, value, False), int(JobID(jobid))))

    def fault_next(self, kind: str, value: float | int | str | None = None) -> None:
        """Inject a fault into the next submitted job (``reject``: its submission fails)."""
        self._update("INSERT INTO next_faults(fault) VALUES(?)", (_fault_text(kind, value, True),))

    def _update(self, sql: str, params: tuple[Any, ...]) -> None:
        conn = self._conn()
        try:
            with state.write(conn):
                conn.execute(sql, params)
        finally:
            conn.close()
        self._wake()


def _fault_text(kind: str, value: float | int | str | None, next_job: bool) -> str:
    if kind not in FAULTS or (kind == "reject" and not next_job):
        accepted = FAULTS if next_job else FAULTS[:-1]
        raise ValueError(f"MockFlux: unknown fault {kind!r}; accepted: {', '.join(accepted)}")
    if kind == "reject":
        return f"reject:{value or 'job rejected by the mock flux (fault_next)'}"
    if kind == "exit":
        code = 1 if value is None else int(value)
        if not 1 <= code <= 255:
            raise ValueError(f"MockFlux: an exit fault needs an exit code 1..255, got {value!r}")
        return f"exit:{code}"
    if kind in ("timeout", "nodefail"):
        return f"{kind}:{float(value or 0)}"
    return kind


def _job(r: dict[str, Any], events: list[str]) -> Job:
    return Job(id=JobID(r["id"]), name=r["name"], state=r["state"], result=r["result"] or "", urgency=r["urgency"],
               ntasks=r["ntasks"], nnodes=r["nnodes"], nodelist=r["nodelist"] or "", waitstatus=r["waitstatus"],
               exception=r["exc_type"] or "", exception_note=r["exc_note"] or "", dependency=r["dependency"] or "",
               held=r["urgency"] == 0, jobspec=json.loads(r["jobspec"]), t_submit=r["t_submit"],
               t_run=r["t_run"] or 0.0, t_inactive=r["t_inactive"] or 0.0, events=events)
