"""The state of one mock flux instance: ``<root>/flux.db`` (SQLite, WAL) and the wake-up sockets around it.

Tables: ``jobs`` (one row per job: state, jobspec JSON, times, result), ``events`` (every job's eventlog,
one row per event, in one AUTOINCREMENT sequence so a reader asks "what happened after seq N?"),
``requests`` (cancel / kill / raise / urgency asked by a client, applied by the broker), ``watchers`` (the
abstract sockets of processes blocked waiting for events), ``calls`` (the call log of the control API),
``next_faults``.  The SQLite plumbing (WAL, busy timeout, short ``BEGIN IMMEDIATE`` transactions, NUL-packed
argv) is the one of the mock SLURM (:mod:`pytest_executorlib.mocks.slurm.db`).

Wake-ups are datagrams on abstract Unix sockets named after the instance directory's inode
(:func:`pytest_executorlib.mocks.slurm.common.notify`): a client that changed the database wakes the broker;
the broker, after a pass that posted events, wakes every registered watcher.  A datagram carries no data
beyond "look again", so nothing a local process sends can do more than trigger a read.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from pytest_executorlib.mocks.slurm import db as slurm_db
from pytest_executorlib.mocks.slurm.common import notify

write = slurm_db.write
pack = slurm_db.pack
unpack = slurm_db.unpack

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS jobs(
  id INTEGER PRIMARY KEY, userid INT, name TEXT, state TEXT, result TEXT DEFAULT '', jobspec TEXT,
  urgency INT, priority INT DEFAULT 0, waitable INT DEFAULT 0, waited INT DEFAULT 0, kind TEXT,
  t_submit REAL, t_run REAL DEFAULT 0, t_cleanup REAL DEFAULT 0, t_inactive REAL DEFAULT 0,
  waitstatus INT, exc_type TEXT DEFAULT '', exc_note TEXT DEFAULT '', ntasks INT, nnodes INT,
  alloc TEXT DEFAULT '', nodelist TEXT DEFAULT '', dependency TEXT DEFAULT '', fault TEXT DEFAULT '',
  duration REAL DEFAULT 0, cwd TEXT DEFAULT '', pgid INT DEFAULT 0);
CREATE TABLE IF NOT EXISTS events(seq INTEGER PRIMARY KEY AUTOINCREMENT, jobid INT, name TEXT, timestamp REAL,
  context TEXT);
CREATE INDEX IF NOT EXISTS events_job ON events(jobid, seq);
CREATE TABLE IF NOT EXISTS requests(seq INTEGER PRIMARY KEY AUTOINCREMENT, jobid INT, kind TEXT, arg TEXT);
CREATE TABLE IF NOT EXISTS watchers(address BLOB PRIMARY KEY);
CREATE TABLE IF NOT EXISTS calls(seq INTEGER PRIMARY KEY AUTOINCREMENT, time REAL, command TEXT, argv BLOB,
  cwd TEXT, job TEXT);
CREATE TABLE IF NOT EXISTS next_faults(seq INTEGER PRIMARY KEY AUTOINCREMENT, fault TEXT);
"""

ACTIVE = ("NEW", "DEPEND", "PRIORITY", "SCHED", "RUN", "CLEANUP")
DB_NAME = "flux.db"
URI_NAME = "local-0"  # FLUX_URI=local://<root>/local-0; the file exists while the broker runs


def connect(root: str) -> Any:
    conn = slurm_db.sqlite.connect(os.path.join(root, DB_NAME), timeout=slurm_db.BUSY_TIMEOUT_MS / 1000,
                                   isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout={slurm_db.BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def create(root: str, shape_text: str) -> None:
    conn = connect(root)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA)
        with write(conn):
            for key, value in (("shape", shape_text), ("epoch", repr(time.time())), ("stopped", "0"),
                               ("hold_new", "0"), ("seq", "0")):
                conn.execute("INSERT OR REPLACE INTO meta VALUES(?, ?)", (key, value))
    finally:
        conn.close()


def meta(conn: Any, key: str, default: str = "") -> str:
    row = conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    return default if row is None else str(row[0])


def tag(root: str) -> bytes:
    st = os.stat(root)
    return f"{st.st_dev:x}-{st.st_ino:x}".encode()


def broker_address(root: str) -> bytes:
    return b"\0xlib-flux-broker-" + tag(root)


def log_call(conn: Any, command: str, argv: list[str]) -> None:
    with write(conn):
        conn.execute("INSERT INTO calls(time, command, argv, cwd, job) VALUES(?,?,?,?,?)",
                     (time.time(), command, pack(argv), _cwd(), os.environ.get("FLUX_JOB_ID", "")))


def _cwd() -> str:
    try:
        return os.getcwd()
    except OSError:
        return ""


def new_jobid(conn: Any) -> int:
    """A FLUID: ms since the instance's epoch (40 bits), generator 0 (14 bits), a sequence (10 bits);
    strictly increasing (inside a write transaction)."""
    epoch = float(meta(conn, "epoch", "0"))
    last = int(meta(conn, "seq", "0"))
    candidate = int((time.time() - epoch) * 1000) << 24
    jobid = max(candidate, last + 1)
    conn.execute("INSERT OR REPLACE INTO meta VALUES('seq', ?)", (str(jobid),))
    return jobid


_counter = itertools.count()
_counter_lock = threading.Lock()


class Watcher:
    """A bound abstract socket registered with the broker: :meth:`wait` wakes when the broker posted events.

    Register first, then read the database, then :meth:`wait`: an event posted in between is already queued
    on the socket, so no wake-up is lost.
    """

    def __init__(self, root: str, conn: Any) -> None:
        with _counter_lock:
            n = next(_counter)
        self.address = b"\0xlib-flux-w-" + tag(root) + f"-{os.getpid()}-{n}".encode()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.address)
        self.sock.setblocking(False)
        self.conn = conn
        with write(conn):
            conn.execute("INSERT OR REPLACE INTO watchers VALUES(?)", (self.address,))

    def fileno(self) -> int:
        return self.sock.fileno()

    def drain(self) -> None:
        try:
            while self.sock.recv(64):
                pass
        except BlockingIOError:
            pass

    def wait(self, timeout: float | None) -> bool:
        """Block until woken (True) or ``timeout`` seconds passed (False)."""
        import selectors

        with selectors.DefaultSelector() as sel:
            sel.register(self.sock, selectors.EVENT_READ)
            ready = bool(sel.select(timeout))
        self.drain()
        return ready

    def wake(self) -> None:
        notify(self.address)

    def close(self) -> None:
        try:
            with write(self.conn):
                self.conn.execute("DELETE FROM watchers WHERE address=?", (self.address,))
        except Exception:  # the instance may be gone already
            pass
        self.sock.close()


def wake_watchers(conn: Any) -> None:
    """Wake every registered watcher; forget the ones nobody listens on any more."""
    dead = [bytes(a) for (a,) in conn.execute("SELECT address FROM watchers").fetchall() if not notify(bytes(a))]
    if dead:
        with write(conn):
            conn.executemany("DELETE FROM watchers WHERE address=?", [(a,) for a in dead])
