"""The module functions of ``flux.job``: submit, wait, result, cancel, kill, job_raise (flux-core 0.88 names)."""

from __future__ import annotations

import errno
import os
import signal
from typing import Any, NamedTuple

from flux.job.JobID import JobID

FLUX_JOBID_ANY = 0xFFFFFFFFFFFFFFFF
RESULT_IDS = {"COMPLETED": 1, "FAILED": 2, "CANCELED": 4, "TIMEOUT": 8}


def _spec(jobspec: Any) -> Any:
    if jobspec is None:
        raise OSError(errno.EINVAL, "Invalid argument")
    return jobspec.jobspec if hasattr(jobspec, "jobspec") and isinstance(jobspec.jobspec, dict) else jobspec


def submit(flux_handle: Any, jobspec: Any, urgency: int = 16, waitable: bool = False, debug: bool = False,
           pre_signed: bool = False, novalidate: bool = False) -> JobID:
    """Submit ``jobspec`` (a Jobspec or JSON); returns its JobID."""
    return JobID(flux_handle.instance.submit(_spec(jobspec), urgency=urgency, waitable=waitable))


class SubmitFuture:
    """What ``submit_async`` returns: ``.get_id()`` (alias of :func:`submit_get_id`)."""

    def __init__(self, flux_handle: Any, jobspec: Any, urgency: int, waitable: bool) -> None:
        try:
            self._id: JobID | None = submit(flux_handle, jobspec, urgency, waitable)
            self._error: BaseException | None = None
        except OSError as exc:
            self._id, self._error = None, exc

    def get_id(self) -> JobID:
        if self._error is not None:
            raise self._error
        assert self._id is not None
        return self._id


def submit_async(flux_handle: Any, jobspec: Any, urgency: int = 16, waitable: bool = False, debug: bool = False,
                 pre_signed: bool = False, novalidate: bool = False) -> SubmitFuture:
    return SubmitFuture(flux_handle, jobspec, urgency, waitable)


def submit_get_id(future: SubmitFuture) -> JobID:
    return future.get_id()


class JobWaitResult(NamedTuple):
    jobid: int
    success: bool
    errstr: bytes


def _status_text(waitstatus: int | None, exc_type: str, note: str) -> str:
    if exc_type:
        return f"Fatal exception type={exc_type} {note}".rstrip()
    code = (waitstatus or 0) >> 8
    if code > 128:
        return f"task(s) {signal.strsignal(code - 128)}"
    return f"task(s) exited with exit code {code}"


def wait(flux_handle: Any, jobid: int = FLUX_JOBID_ANY) -> JobWaitResult:
    """Wait for a waitable job (or any waitable job not yet waited for)."""
    inst = flux_handle.instance
    if jobid == FLUX_JOBID_ANY:
        def pick() -> Any:
            rows = inst.conn.execute("SELECT id, state FROM jobs WHERE waitable=1 AND waited=0 ORDER BY id").fetchall()
            if not rows:
                raise ChildProcessError(errno.ECHILD, "No child processes")
            done = [r for r in rows if r[1] == "INACTIVE"]
            return done[0][0] if done else None

        jobid = inst.await_(pick, None, "a waitable job")
    job = inst.job(jobid)
    if job is None:
        raise FileNotFoundError(errno.ENOENT, "No such file or directory")
    if not job["waitable"]:
        raise OSError(errno.EINVAL, f"job {JobID(jobid)} is not waitable")
    job = inst.wait_inactive(jobid)
    from pytest_executorlib.mocks.flux import state

    with state.write(inst.conn):
        inst.conn.execute("UPDATE jobs SET waited=1 WHERE id=?", (int(jobid),))
    ok = job["result"] == "COMPLETED"
    err = b"" if ok else _status_text(job["waitstatus"], job["exc_type"], job["exc_note"]).encode()
    return JobWaitResult(int(jobid), ok, err)


class JobInfo:
    """What ``flux.job.result`` returns: id, t_submit, t_run, t_cleanup, returncode, waitstatus, runtime,
    result, result_id."""

    def __init__(self, job: dict[str, Any]) -> None:
        self.id = JobID(job["id"])
        self.t_submit = job["t_submit"]
        self.t_run = job["t_run"] or 0.0
        self.t_cleanup = job["t_cleanup"] or 0.0
        self.result = job["result"]
        self.result_id = RESULT_IDS[self.result]
        status = job["waitstatus"]
        self.waitstatus = "" if status is None else status
        if status is None:
            self.returncode = -128 if job["exc_type"] == "cancel" else 1
        elif os.WIFSIGNALED(status):
            self.returncode = -os.WTERMSIG(status)
        else:
            self.returncode = os.WEXITSTATUS(status)
        self.runtime = (self.t_cleanup - self.t_run) if self.t_run else 0.0

    def __repr__(self) -> str:
        return f"JobInfo(id={self.id}, result={self.result}, returncode={self.returncode})"


def result(flux_handle: Any, jobid: int, flags: int = 0) -> JobInfo:
    """Block until the job is inactive; its result (FileNotFoundError for an unknown id)."""
    return JobInfo(flux_handle.instance.wait_inactive(int(jobid)))


def cancel(flux_handle: Any, jobid: int, reason: str | None = None) -> None:
    flux_handle.instance.raise_exception(int(jobid), "cancel", 0, reason or "")


def kill(flux_handle: Any, jobid: int, signum: int | None = None) -> None:
    flux_handle.instance.request(int(jobid), "kill", str(int(signal.SIGTERM if signum is None else signum)))


def job_raise(flux_handle: Any, jobid: int, exc_type: str, severity: int = 0, note: str | None = None) -> None:
    flux_handle.instance.raise_exception(int(jobid), exc_type, severity, note or "")


def cancel_async(flux_handle: Any, jobid: int, reason: str | None = None) -> None:
    cancel(flux_handle, jobid, reason)


def kill_async(flux_handle: Any, jobid: int, signum: int | None = None) -> None:
    kill(flux_handle, jobid, signum)
