"""A client's view of a mock flux instance: connect by URI, submit, raise/cancel/kill, read and await events.

Used by the ``flux`` Python package (:mod:`flux.job`, :mod:`flux.resource`) and the ``flux`` command alike.
Waiting is event-driven: a :class:`state.Watcher` is registered before the database is read, and the broker
wakes it after every pass that posted events; every wait is bounded by the caller's timeout and ends with a
clear error when the instance has shut down.
"""

from __future__ import annotations

import errno
import json
import os
import time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

from pytest_executorlib.mocks.flux import resources, state
from pytest_executorlib.mocks.flux.jobid import encode, parse
from pytest_executorlib.mocks.slurm.common import notify

DEFAULT_URI_PATH = "/run/flux/local"
#: Seconds between checks that the broker still listens while a client waits and nothing happens.
LIVENESS_INTERVAL = 2.0


def connect_error(path: str) -> FileNotFoundError:
    return FileNotFoundError(errno.ENOENT, f"Unable to connect to Flux: broker socket {path} was not found")


class Instance:
    """An open instance (``root``: its directory)."""

    def __init__(self, root: str) -> None:
        import threading

        self.root = root
        self._local = threading.local()  # one connection per thread: a handle may be shared by threads
        self.shape = resources.Shape.decode(state.meta(self.conn, "shape"))
        self.uri = "local://" + os.path.join(root, state.URI_NAME)

    @property
    def conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = state.connect(self.root)
        return conn

    @classmethod
    def from_uri(cls, uri: str | None = None) -> Instance:
        """The instance of ``uri`` (default ``$FLUX_URI``); FileNotFoundError as flux says when none answers."""
        uri = uri or os.environ.get("FLUX_URI") or "local://" + DEFAULT_URI_PATH
        path = uri[len("local://"):] if uri.startswith("local://") else uri
        root = os.path.dirname(path)
        if not os.path.exists(path) or not os.path.exists(os.path.join(root, state.DB_NAME)):
            raise connect_error(path)
        return cls(root)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def wake(self) -> None:
        notify(state.broker_address(self.root))

    def stopped(self) -> bool:
        return state.meta(self.conn, "stopped") == "1"

    # --- submitting ----------------------------------------------------------------------------------------
    def submit(self, jobspec: Any, urgency: int = 16, waitable: bool = False, kind: str = "api") -> int:
        if jobspec is None:
            raise OSError(errno.EINVAL, "Invalid argument")
        if isinstance(jobspec, bytes):
            jobspec = jobspec.decode()
        spec = json.loads(jobspec) if isinstance(jobspec, str) else jobspec
        if not isinstance(spec, dict) or "resources" not in spec or "tasks" not in spec:
            raise OSError(errno.EINVAL, "jobspec: missing resources or tasks")
        if not isinstance(urgency, int) or not 0 <= urgency <= 31:
            raise OSError(errno.EINVAL, "urgency range is [0:31]")
        system = spec.setdefault("attributes", {}).setdefault("system", {})
        for dep in system.get("dependencies", []):
            self._check_dependency(dep)
        req = resources.request_of(spec)
        options = system.get("shell", {}).get("options", {})
        count = spec["tasks"][0].get("count", {})
        ntasks = (None if options.get("per-resource", {}).get("type") == "node" else
                  int(count["total"]) if "total" in count else req.slots * int(count.get("per_slot", 1)))
        command = spec["tasks"][0].get("command", [])
        name = system.get("job", {}).get("name") or (os.path.basename(command[0]) if command else "")
        reject = None
        with state.write(self.conn):
            fault = ""
            row = self.conn.execute("SELECT seq, fault FROM next_faults ORDER BY seq LIMIT 1").fetchone()
            if row is not None:
                self.conn.execute("DELETE FROM next_faults WHERE seq=?", (row[0],))
                fault = row[1]
            if fault.startswith("reject:"):
                reject = fault[len("reject:"):]
            else:
                if state.meta(self.conn, "hold_new") == "1":
                    urgency = 0
                jobid = state.new_jobid(self.conn)
                now = time.time()
                self.conn.execute(
                    "INSERT INTO jobs(id, userid, name, state, jobspec, urgency, waitable, kind, t_submit, ntasks, "
                    "nnodes, fault, duration, cwd) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (jobid, os.getuid(), name, "NEW", json.dumps(spec), urgency, int(bool(waitable)), kind, now,
                     ntasks, req.nnodes, fault, float(system.get("duration") or 0), system.get("cwd") or ""))
                self.conn.execute("INSERT INTO events(jobid, name, timestamp, context) VALUES(?,?,?,?)",
                                  (jobid, "submit", now, json.dumps({"userid": os.getuid(), "urgency": urgency,
                                                                     "flags": 2 if waitable else 0, "version": 1})))
        if reject is not None:
            raise OSError(errno.EINVAL, reject)
        self.wake()
        return jobid

    def _check_dependency(self, dep: dict[str, Any]) -> None:
        scheme, given = dep.get("scheme", ""), str(dep.get("value", ""))
        from pytest_executorlib.mocks.flux.sched import SCHEMES

        if scheme not in SCHEMES:
            raise OSError(errno.EINVAL, f"dependency: unknown scheme {scheme!r}; accepted: {', '.join(SCHEMES)}")
        target = parse(given)
        row = None if target is None else self.conn.execute(
            "SELECT state, result, t_run FROM jobs WHERE id=?", (target,)).fetchone()
        if row is None:
            raise OSError(errno.EINVAL, f"dependency: {scheme}: id {given}: job not found")
        st, res, t_run = row
        if scheme == "afterok" and st == "INACTIVE" and res != "COMPLETED":
            raise OSError(errno.EINVAL, f"dependency: {scheme}: job {given} failed or was canceled")
        if scheme == "after" and st == "INACTIVE" and not t_run:
            raise OSError(errno.EINVAL, f"dependency: {scheme}: job {given} never started")
        if scheme == "afternotok" and st == "INACTIVE" and res == "COMPLETED":
            raise OSError(errno.EINVAL, f"dependency: {scheme}: job {given} succeeded")

    # --- requests --------------------------------------------------------------------------------------------
    def request(self, jobid: int, kind: str, arg: str) -> None:
        """Queue a cancel/raise/kill/urgency request; FileNotFoundError for unknown or inactive jobs."""
        with state.write(self.conn):
            row = self.conn.execute("SELECT state FROM jobs WHERE id=?", (int(jobid),)).fetchone()
            if row is None:
                raise FileNotFoundError(errno.ENOENT, "unknown job id")
            if row[0] == "INACTIVE":
                raise FileNotFoundError(errno.ENOENT, "job is inactive")
            self.conn.execute("INSERT INTO requests(jobid, kind, arg) VALUES(?,?,?)", (int(jobid), kind, arg))
        self.wake()

    def raise_exception(self, jobid: int, exc_type: str, severity: int = 0, note: str = "") -> None:
        self.request(jobid, "raise", json.dumps({"type": exc_type, "severity": int(severity), "note": note or ""}))

    # --- reading ---------------------------------------------------------------------------------------------
    def job(self, jobid: int) -> dict[str, Any] | None:
        cur = self.conn.execute("SELECT * FROM jobs WHERE id=?", (int(jobid),))
        row = cur.fetchone()
        return None if row is None else dict(zip([d[0] for d in cur.description], row))

    def events(self, jobid: int, after: int = 0) -> list[tuple[int, str, float, dict[str, Any]]]:
        rows = self.conn.execute("SELECT seq, name, timestamp, context FROM events WHERE jobid=? AND seq>? ORDER BY seq",
                                 (int(jobid), after)).fetchall()
        return [(s, n, t, json.loads(c)) for s, n, t, c in rows]

    def await_(self, ready: Callable[[], Any], timeout: float | None = None, what: str = "") -> Any:
        """Return ``ready()`` once it is not None, woken by the broker; TimeoutError after ``timeout`` s.

        While nothing happens it also checks every :data:`LIVENESS_INTERVAL` s that the broker still listens:
        a broker that was killed (not stopped) ends the wait with ConnectionResetError instead of a hang.
        """
        value = ready()
        if value is not None:
            return value
        watcher = state.Watcher(self.root, self.conn)
        try:
            deadline = None if timeout is None else time.monotonic() + timeout
            woken = True
            while True:
                value = ready()
                if value is not None:
                    return value
                if self.stopped() or (not woken and not notify(state.broker_address(self.root))):
                    raise ConnectionResetError(errno.ECONNRESET, f"the flux broker of {self.uri} has shut down "
                                                                 f"while waiting for {what or 'the job'}")
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"timed out waiting for {what or 'the job'}")
                woken = watcher.wait(LIVENESS_INTERVAL if left is None else min(left, LIVENESS_INTERVAL))
        finally:
            watcher.close()

    def wait_inactive(self, jobid: int, timeout: float | None = None) -> dict[str, Any]:
        def ready() -> dict[str, Any] | None:
            job = self.job(jobid)
            if job is None:
                raise FileNotFoundError(errno.ENOENT, "No such file or directory")
            return job if job["state"] == "INACTIVE" else None

        return self.await_(ready, timeout, f"job {encode(int(jobid), 'f58')}")  # type: ignore[no-any-return]
