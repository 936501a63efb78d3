"""One scheduling pass of the mock broker, in one short write transaction: the job state machine.

States (RFC 21): NEW -> DEPEND -> PRIORITY -> SCHED -> RUN -> CLEANUP -> INACTIVE.  A pass

1. applies client requests (``cancel``/``raise`` post an ``exception`` event; ``kill`` signals the tasks;
   ``urgency`` re-prioritises a pending job);
2. moves new jobs through ``validate``, ``depend`` (after their dependencies: ``afterok``, ``afterany``,
   ``afternotok``, ``after``) and ``priority`` into SCHED;
3. allocates SCHED jobs (highest priority first, then oldest) where :func:`resources.place` finds room;
   an unsatisfiable one gets flux's ``alloc`` exception and is cleaned up; a held one (urgency 0) waits.

Starting, signalling and reaping processes is the broker's job (:mod:`.broker`, :mod:`.launch`); this module
only reads and writes the database and returns what the broker must do.
"""

from __future__ import annotations

import json
import signal
import time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from pytest_executorlib.mocks.flux import resources, state
from pytest_executorlib.mocks.flux.jobid import encode

SCHEMES = {"afterok": "after-success", "afterany": "after-finish", "afternotok": "after-failure",
           "after": "after-start"}
PENDING = ("NEW", "DEPEND", "PRIORITY", "SCHED")


def post(conn: Any, jobid: int, name: str, context: dict[str, Any] | None = None, when: float | None = None) -> None:
    conn.execute("INSERT INTO events(jobid, name, timestamp, context) VALUES(?,?,?,?)",
                 (jobid, name, time.time() if when is None else when, json.dumps(context or {})))


def result_of(exc_type: str, waitstatus: int | None) -> str:
    if exc_type == "cancel":
        return "CANCELED"
    if exc_type == "timeout":
        return "TIMEOUT"
    if waitstatus == 0 and not exc_type:
        return "COMPLETED"
    return "FAILED"


def clean_pending(conn: Any, jobid: int, exc_type: str) -> None:
    """A pending job ended by a fatal exception: ``clean`` at once (no alloc, no finish)."""
    now = time.time()
    post(conn, jobid, "clean", when=now)
    conn.execute("UPDATE jobs SET state='INACTIVE', result=?, t_cleanup=?, t_inactive=? WHERE id=?",
                 (result_of(exc_type, None), now, now, jobid))


def raise_exception(conn: Any, jobid: int, exc_type: str, severity: int, note: str, st: str) -> bool:
    """Post an exception; a fatal one ends a pending job at once.  True if a running job must be stopped."""
    post(conn, jobid, "exception", {"type": exc_type, "severity": severity, "note": note, "userid": _uid()})
    if severity != 0:
        return False
    conn.execute("UPDATE jobs SET exc_type=?, exc_note=? WHERE id=? AND exc_type=''", (exc_type, note, jobid))
    if st in PENDING:
        clean_pending(conn, jobid, exc_type)
        return False
    return st == "RUN"


def _uid() -> int:
    import os

    return os.getuid()


class Actions:
    def __init__(self) -> None:
        self.start: list[int] = []
        self.stop: list[tuple[int, int]] = []  # (jobid, signal): a fatal exception on a running job
        self.kill: list[tuple[int, int]] = []  # (jobid, signal): flux job kill


def _requests(conn: Any, acts: Actions) -> None:
    rows = conn.execute("SELECT seq, jobid, kind, arg FROM requests ORDER BY seq").fetchall()
    if rows:
        conn.execute("DELETE FROM requests WHERE seq <= ?", (rows[-1][0],))
    for _, jobid, kind, arg in rows:
        row = conn.execute("SELECT state FROM jobs WHERE id=?", (jobid,)).fetchone()
        if row is None or row[0] == "INACTIVE":
            continue
        st = row[0]
        if kind == "raise":
            info = json.loads(arg)
            if raise_exception(conn, jobid, info["type"], int(info["severity"]), info["note"], st):
                sig = signal.SIGALRM if info["type"] == "timeout" else signal.SIGTERM
                acts.stop.append((jobid, sig))
        elif kind == "kill" and st == "RUN":
            acts.kill.append((jobid, int(arg)))
        elif kind == "urgency" and st in PENDING:
            urgency = int(arg)
            conn.execute("UPDATE jobs SET urgency=?, priority=? WHERE id=?", (urgency, urgency, jobid))
            post(conn, jobid, "urgency", {"userid": _uid(), "urgency": urgency})
            if st == "SCHED":
                post(conn, jobid, "priority", {"priority": urgency})


def parse_dependencies(jobspec: dict[str, Any]) -> list[tuple[str, int]]:
    deps = jobspec.get("attributes", {}).get("system", {}).get("dependencies", [])
    from pytest_executorlib.mocks.flux.jobid import parse

    out = []
    for d in deps:
        value = parse(str(d["value"]))
        out.append((d["scheme"], value if value is not None else -1))
    return out


def dependency_check(conn: Any, deps: list[tuple[str, int]]) -> tuple[str, str]:
    """("ok", "") when every dependency is met, ("wait", description) or ("fail", note)."""
    for scheme, dep in deps:
        row = conn.execute("SELECT state, result, t_run FROM jobs WHERE id=?", (dep,)).fetchone()
        desc = f"{SCHEMES.get(scheme, scheme)}={encode(dep, 'f58')}"
        if row is None:
            return "fail", f"dependency {desc} job not found"
        st, res, t_run = row
        done = st == "INACTIVE"
        if scheme == "after":
            if t_run:
                continue
            if done:
                return "fail", f"dependency {desc} job never started"
        elif scheme == "afterany":
            if done:
                continue
        elif scheme == "afterok":
            if done and res == "COMPLETED":
                continue
            if done:
                return "fail", f"dependency {desc} job {'never started' if not t_run else 'failed'}"
        elif scheme == "afternotok":
            if done and res != "COMPLETED":
                continue
            if done:
                return "fail", f"dependency {desc} job succeeded"
        return "wait", desc
    return "ok", ""


def schedule(conn: Any, shape: resources.Shape) -> Actions:
    """One pass; call inside ``state.write(conn)``."""
    acts = Actions()
    _requests(conn, acts)
    now = time.time()
    for jobid, st, spec_text, urgency in conn.execute(
            "SELECT id, state, jobspec, urgency FROM jobs WHERE state IN ('NEW','DEPEND') ORDER BY id").fetchall():
        spec = json.loads(spec_text)
        if st == "NEW":
            post(conn, jobid, "validate", when=now)
        deps = parse_dependencies(spec)
        verdict, text = dependency_check(conn, deps) if deps else ("ok", "")
        if verdict == "wait":
            if st == "NEW":
                post(conn, jobid, "dependency-add", {"description": text})
                conn.execute("UPDATE jobs SET state='DEPEND', dependency=? WHERE id=?", (text, jobid))
            elif conn.execute("SELECT dependency FROM jobs WHERE id=?", (jobid,)).fetchone()[0] != text:
                conn.execute("UPDATE jobs SET dependency=? WHERE id=?", (text, jobid))
            continue
        if verdict == "fail":
            conn.execute("UPDATE jobs SET state='DEPEND' WHERE id=?", (jobid,))
            raise_exception(conn, jobid, "dependency", 0, text, "DEPEND")
            continue
        if st == "DEPEND":
            post(conn, jobid, "dependency-remove", {"description": conn.execute(
                "SELECT dependency FROM jobs WHERE id=?", (jobid,)).fetchone()[0]})
        post(conn, jobid, "depend", when=now)
        post(conn, jobid, "priority", {"priority": urgency}, when=now)
        conn.execute("UPDATE jobs SET state='SCHED', priority=?, dependency='' WHERE id=?", (urgency, jobid))
    running = [json.loads(a) for (a,) in conn.execute(
        "SELECT alloc FROM jobs WHERE state IN ('RUN','CLEANUP') AND alloc != ''").fetchall()]
    free = resources.free_resources(shape, running)
    for jobid, spec_text, urgency in conn.execute(
            "SELECT id, jobspec, urgency FROM jobs WHERE state='SCHED' ORDER BY priority DESC, id").fetchall():
        if urgency == 0:
            continue  # held
        req = resources.request_of(json.loads(spec_text))
        note = resources.unsatisfiable(shape, req)
        if note is not None:
            raise_exception(conn, jobid, "alloc", 0, note, "SCHED")
            continue
        alloc = resources.place(shape, req, free)
        if alloc is None:
            continue
        free = resources.free_resources(shape, running + [alloc])
        running.append(alloc)
        ranks = [a[0] for a in alloc]
        post(conn, jobid, "alloc", {"annotations": {"sched": {"resource_summary": resources.summary(alloc)}}})
        conn.execute("UPDATE jobs SET state='RUN', alloc=?, nnodes=?, nodelist=?, t_run=? WHERE id=?",
                     (json.dumps(alloc), len(ranks), shape.nodelist(ranks), time.time(), jobid))
        acts.start.append(jobid)
    return acts


def finish(conn: Any, jobid: int, waitstatus: int) -> None:
    """The job's tasks are gone: ``finish``, ``release``, ``free``, ``clean``; the job is INACTIVE."""
    now = time.time()
    exc_type = conn.execute("SELECT exc_type FROM jobs WHERE id=?", (jobid,)).fetchone()[0]
    post(conn, jobid, "finish", {"status": waitstatus}, when=now)
    post(conn, jobid, "release", {"ranks": "all", "final": True}, when=now)
    post(conn, jobid, "free", when=now)
    post(conn, jobid, "clean", when=now)
    conn.execute("UPDATE jobs SET state='INACTIVE', waitstatus=?, result=?, t_cleanup=?, t_inactive=? WHERE id=?",
                 (waitstatus, result_of(exc_type, waitstatus), now, now, jobid))
