"""``MockSlurm``: create a mock cluster in a directory, run its controller, and put its commands on PATH.

Layout of ``root``::

    bin/        srun sbatch squeue scancel scontrol sinfo sacct  (shims: python -I -S, root baked in)
    slurm.db    the cluster database (SQLite, WAL)
    hosts       n1..nN -> 127.0.0.2.. (bind-mounted over /etc/hosts in tasks that get their node's host name)
    slurmctld.log / slurmctld.lock   the controller's log and single-instance lock
    spool/      batch scripts as submitted (never in the job's own directory)
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pathlib
import subprocess
import sys
import threading
from types import TracebackType
from typing import Any

from pytest_executorlib.mocks.slurm import common, db, hostnames
from pytest_executorlib.mocks.slurm.commands import COMMANDS
from pytest_executorlib.mocks.slurm.control import ControlAPI
from pytest_executorlib.mocks.slurm.shape import Shape, make_shape

#: Environment variable naming the cluster directory (set in ``cluster.env``; ``xlib mock-env slurm --stop``).
ROOT_VARIABLE = "XLIB_MOCK_SLURM_ROOT"
#: Seconds the context exit waits for the controller to stop every job before killing it.
STOP_TIMEOUT = 15.0

_SHIM = """#!{python} -IS
import sys
sys.path.insert(0, {parent!r})
from pytest_executorlib.mocks.slurm.commands import main
sys.exit(main({root!r}, {command!r}, sys.argv[1:]))
"""


def outer_slurm_variable(name: str) -> bool:
    """Variables of an enclosing (real) allocation that would make the mock srun look for a foreign job."""
    return name.startswith(("SLURM_", "SLURMD_", "PMI_")) or name == "SLURM_CONF"


class MockSlurm(ControlAPI):
    """A mock SLURM cluster in ``root``: ``with MockSlurm(tmp_path / "slurm", nodes=2) as cluster: ...``.

    ``nodes`` x ``cpus_per_node`` CPUs x ``gpus_per_node`` GPUs; ``partitions`` maps a name to
    ``{"nodes": [0, 1], "default": True, "max_time": minutes}`` (default: one partition ``debug`` with every
    node).  ``min_job_age``: seconds a finished job stays visible (real default 300).  ``accounting``: whether
    ``sacct`` answers (real SLURM without slurmdbd: ``Slurm accounting storage is disabled``, rc 1).
    ``node_hostnames``: tasks (and batch scripts) see their node's host name (``n2``) as on a real multi-node
    cluster, through ``unshare --uts --mount`` (needs root, see :mod:`.hostnames`); default (None): on for
    ``nodes > 1`` where ``unshare`` works; True: required (RuntimeError where it cannot work); False: off
    (every task sees the machine's host name).
    """

    def __init__(
        self,
        root: pathlib.Path | str,
        nodes: int = 1,
        cpus_per_node: int = 4,
        gpus_per_node: int = 0,
        partitions: dict[str, dict[str, Any]] | None = None,
        min_job_age: float = 300.0,
        accounting: bool = False,
        node_hostnames: bool | None = None,
    ) -> None:
        self.root = pathlib.Path(root).absolute()
        self.shape: Shape = make_shape(nodes, cpus_per_node, gpus_per_node, partitions)
        self.min_job_age = float(min_job_age)
        self.accounting = bool(accounting)
        if node_hostnames not in (None, True, False):
            raise ValueError(f"MockSlurm: node_hostnames must be None, True or False, got {node_hostnames!r}")
        self.node_hostnames = node_hostnames
        self.bin = self.root / "bin"
        self.env: dict[str, str] = {}
        self._controller: subprocess.Popen[bytes] | None = None
        self._saved: dict[str, str | None] | None = None
        self._entered = False

    # --- lifecycle ---------------------------------------------------------------------------------------
    def create(self) -> None:
        """Create the cluster directory, database and shims (no process started)."""
        if (self.root / "slurm.db").exists():
            raise FileExistsError(f"MockSlurm: {self.root} already holds a mock cluster; use a new directory")
        self.bin.mkdir(parents=True, exist_ok=True)
        (self.root / "spool").mkdir(exist_ok=True)
        db.create(str(self.root), self.shape.encode())
        hostnames.write_hosts(str(self.root), self.shape.node_names)
        own = False
        if self.node_hostnames or (self.node_hostnames is None and self.shape.nodes > 1):
            own = hostnames.probe(str(self.root))
            if self.node_hostnames and not own:
                raise RuntimeError("MockSlurm(node_hostnames=True): `unshare --uts --mount` does not work here "
                                   "(it needs root or CAP_SYS_ADMIN); use node_hostnames=None or False")
        conn = db.connect(str(self.root))
        try:
            with db.write(conn):
                conn.execute("INSERT OR REPLACE INTO meta VALUES('min_job_age', ?)", (str(self.min_job_age),))
                conn.execute("INSERT OR REPLACE INTO meta VALUES('accounting', ?)", ("1" if self.accounting else "0",))
                conn.execute("INSERT OR REPLACE INTO meta VALUES(?, ?)", (hostnames.META_KEY, "1" if own else "0"))
        finally:
            conn.close()
        parent = common.package_parent()
        for command in COMMANDS:
            path = self.bin / command
            path.write_text(_SHIM.format(python=sys.executable, parent=parent, root=str(self.root), command=command))
            path.chmod(0o755)
        self.env = {"PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', os.defpath)}", ROOT_VARIABLE: str(self.root)}

    def __enter__(self) -> MockSlurm:
        self.create()
        self._controller = common.start_controller(str(self.root), detached=False)
        self._entered = True
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the cluster: every job's processes end, then the controller; the commands then fail."""
        if not self._entered:
            return
        self._entered = False
        try:
            stop_cluster(str(self.root), self._controller)
        finally:
            self.deactivate()

    # --- environment -------------------------------------------------------------------------------------
    def environ(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """``base`` (default ``os.environ``) with :attr:`env` applied and outer SLURM/PMI variables removed."""
        merged = {k: v for k, v in (os.environ if base is None else base).items() if not outer_slurm_variable(k)}
        merged.update(self.env)
        return merged

    def activate(self) -> None:
        """Apply :attr:`env` to ``os.environ`` (and drop outer SLURM variables) until the context exits."""
        if self._saved is not None:
            return
        self._saved = {}
        for key in [k for k in os.environ if outer_slurm_variable(k)] + list(self.env):
            self._saved.setdefault(key, os.environ.get(key))
            os.environ.pop(key, None)
        os.environ.update(self.env)

    def deactivate(self) -> None:
        """Undo :meth:`activate`."""
        if self._saved is None:
            return
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved = None


def stop_cluster(root: str, controller: subprocess.Popen[bytes] | None = None) -> None:
    """Mark the cluster stopped, wake its controller and wait until it (and so every job) has ended."""
    conn = db.connect(root)
    try:
        with db.write(conn):
            conn.execute("INSERT OR REPLACE INTO meta VALUES('stopped', '1')")
    finally:
        conn.close()
    common.notify(common.ctld_address(root))
    if controller is not None:
        try:
            controller.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            controller.kill()
            controller.wait()
    # A controller restarted detached by a command (if ours had died) holds the lock until it has stopped.
    lock_path = os.path.join(root, "slurmctld.lock")
    if not os.path.exists(lock_path):
        return
    with open(lock_path, "w") as lock:
        got = threading.Event()

        def take() -> None:
            with contextlib.suppress(OSError):
                fcntl.flock(lock, fcntl.LOCK_EX)
                got.set()

        worker = threading.Thread(target=take, daemon=True)
        worker.start()
        worker.join(STOP_TIMEOUT)
        if not got.is_set():
            raise RuntimeError(f"MockSlurm: the controller of {root} did not stop within {STOP_TIMEOUT} s "
                               f"(see {root}/slurmctld.log)")
