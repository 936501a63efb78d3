"""The cluster database: one SQLite file per mock cluster (``<root>/slurm.db``), shared by every command.

WAL journal (readers never block the writer), ``busy_timeout`` (a writer waits for another instead of failing),
and short ``BEGIN IMMEDIATE`` transactions (take the write lock first, so two read-modify-write sequences never
interleave).  Job ids come from ``AUTOINCREMENT``: one increasing sequence for srun and sbatch, never reused.

The commands import :mod:`_sqlite3` (the C core of :mod:`sqlite3`) when they can: ``sqlite3`` pulls in
``datetime`` and costs a measurable part of a mock ``srun``'s start-up.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a command ~10 ms
if TYPE_CHECKING:
    from typing import Any

try:
    import _sqlite3 as sqlite
except ImportError:  # pragma: no cover - other Python builds
    import sqlite3 as sqlite  # type: ignore[no-redef]

#: How long a command waits for another one's write lock (50 concurrent commands on a busy 2-core machine).
BUSY_TIMEOUT_MS = 60_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS jobs(
  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, user TEXT, partition TEXT, kind TEXT,
  state TEXT, reason TEXT, ntasks INT, cpus_per_task INT, cpt_given INT, nodes INT, gpus INT,
  time_limit INT, submit_time REAL, start_time REAL, end_time REAL, exit_code INT DEFAULT 0,
  signal INT DEFAULT 0, workdir TEXT, stdout TEXT, stderr TEXT, command TEXT, env BLOB,
  dependency TEXT DEFAULT '', hold INT DEFAULT 0, nodelist TEXT DEFAULT '', alloc TEXT DEFAULT '',
  pid INT DEFAULT 0, waiter TEXT DEFAULT '', fault TEXT DEFAULT '', restarts INT DEFAULT 0,
  exclusive INT DEFAULT 0, steps INT DEFAULT 0, script BLOB, mem INT DEFAULT 0, args BLOB,
  tasks_per_node INT DEFAULT 0, req_nodes TEXT DEFAULT '', exc_nodes TEXT DEFAULT '');
CREATE TABLE IF NOT EXISTS steps(
  job_id INT, step_id INT, pid INT, pgid INT, ntasks INT, state TEXT, PRIMARY KEY(job_id, step_id));
CREATE TABLE IF NOT EXISTS calls(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, time REAL, command TEXT, argv BLOB, cwd TEXT, job TEXT);
CREATE TABLE IF NOT EXISTS next_faults(seq INTEGER PRIMARY KEY AUTOINCREMENT, command TEXT, fault TEXT);
CREATE TABLE IF NOT EXISTS nodes(name TEXT PRIMARY KEY, state TEXT, reason TEXT, since REAL);
"""

ACTIVE = ("PENDING", "RUNNING", "COMPLETING", "SUSPENDED")


def connect(root: str) -> Any:
    """Open the cluster database of ``root`` (autocommit mode: transactions are explicit)."""
    conn = sqlite.connect(os.path.join(root, "slurm.db"), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def create(root: str, shape_text: str) -> None:
    """Create the database of a new cluster (WAL mode is a property of the file, set once here)."""
    conn = connect(root)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA)
        with write(conn):
            conn.execute("INSERT OR REPLACE INTO meta VALUES('shape', ?)", (shape_text,))
            conn.execute("INSERT OR REPLACE INTO meta VALUES('stopped', '0')")
    finally:
        conn.close()


@contextmanager
def write(conn: Any) -> Iterator[Any]:
    """A short write transaction: ``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on error)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def meta(conn: Any, key: str, default: str = "") -> str:
    row = conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    return default if row is None else str(row[0])


def pack(items: list[str]) -> bytes:
    """argv or environment entries as one blob (NUL-separated: no entry can contain NUL)."""
    return "\0".join(items).encode("utf-8", "surrogateescape")


def unpack(blob: bytes | None) -> list[str]:
    if not blob:
        return []
    return bytes(blob).decode("utf-8", "surrogateescape").split("\0")


def log_call(conn: Any, command: str, argv: list[str]) -> None:
    """Record one command call (the call log of the control API)."""
    with write(conn):
        conn.execute(
            "INSERT INTO calls(time, command, argv, cwd, job) VALUES(?,?,?,?,?)",
            (time.time(), command, pack(argv), _cwd(), os.environ.get("SLURM_JOB_ID", "")),
        )


def _cwd() -> str:
    try:
        return os.getcwd()
    except OSError:  # the caller's directory was removed
        return ""
