"""What every mock command shares: the cluster handle, SLURM's text formats, and waking the controller.

Kept free of heavy imports (no json, re, subprocess, datetime): a mock ``srun -n1 true`` must start about as
fast as the real one.  The controller is woken by one datagram on an abstract Unix socket named after the
cluster root; the datagram carries no command, it only says "look at the database again", so nothing a
local process sends can do more than trigger a scheduling pass.
"""

from __future__ import annotations

import os
import socket
import sys
import time
TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a command ~10 ms
if TYPE_CHECKING:
    from typing import Any, NoReturn

from pytest_executorlib.mocks.slurm import db
from pytest_executorlib.mocks.slurm.shape import Shape

#: The host name every simulated node reports in messages is its node name (n1, n2, ...).
CLUSTER_NAME = "mock"


def _cluster_tag(root: str) -> bytes:
    """The cluster directory's device and inode: unique among existing directories, short at any path length."""
    st = os.stat(root)
    return f"{st.st_dev:x}-{st.st_ino:x}".encode()


def ctld_address(root: str) -> bytes:
    """Abstract socket name of the cluster's controller (no file to clean up)."""
    return b"\0xlib-slurmctld-" + _cluster_tag(root)


def waiter_address(root: str, pid: int) -> bytes:
    """Abstract socket name on which a waiting ``srun`` (process ``pid``) is woken."""
    return b"\0xlib-srun-" + _cluster_tag(root) + b"-" + str(pid).encode()


def notify(address: bytes) -> bool:
    """Send one wake-up datagram; False if nobody listens there."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.sendto(b"w", address)
        return True
    except (ConnectionRefusedError, FileNotFoundError):
        return False
    except BlockingIOError:  # the receiver's queue is full: it has wake-ups pending already
        return True
    finally:
        sock.close()


class Cluster:
    """A command's handle on the cluster: root, database connection and shape."""

    def __init__(self, root: str, command: str) -> None:
        self.root = root
        self.command = command
        self.conn = db.connect(root)
        self.shape = Shape.decode(db.meta(self.conn, "shape"))

    def stopped(self) -> bool:
        return db.meta(self.conn, "stopped") == "1"

    def wake(self) -> None:
        """Wake the controller; start it (detached) when it is not running and the cluster is not stopped."""
        if notify(ctld_address(self.root)) or self.stopped():
            return
        start_controller(self.root, detached=True)

    def error(self, message: str, rc: int = 1) -> NoReturn:
        """Print ``<command>: error: <message>`` and exit with ``rc``."""
        sys.stderr.write(f"{self.command}: error: {message}\n")
        sys.stderr.flush()
        raise SystemExit(rc)

    def down(self) -> NoReturn:
        """The controller of a stopped cluster cannot be reached (as real commands say without slurmctld)."""
        self.error("Unable to contact slurm controller (connect failure)", 1)


def start_controller(root: str, detached: bool) -> Any:
    """Start the controller process of ``root``; detached: double fork, so no zombie is left behind."""
    argv = [sys.executable, "-I", "-S", "-c", _CONTROLLER_BOOT, package_parent(), root, "0"]
    log = os.open(os.path.join(root, "slurmctld.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        if not detached:
            import subprocess

            proc = subprocess.Popen(
                argv[:-1] + [str(os.getpid())], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                start_new_session=True, close_fds=True,
            )
            _wait_ready(proc, root)
            return proc
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            try:
                os.setsid()
                if os.fork() == 0:
                    null = os.open(os.devnull, os.O_RDONLY)
                    os.dup2(null, 0)
                    os.dup2(log, 1)
                    os.dup2(log, 2)
                    os.execv(argv[0], argv)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        return None
    finally:
        os.close(log)


#: Seconds MockSlurm.__enter__ waits for its controller to be listening.
READY_TIMEOUT = 60.0


def _wait_ready(proc: Any, root: str) -> None:
    """Wait (bounded) until the controller says it listens; a clear error quoting its log otherwise."""
    import selectors

    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        line = proc.stdout.readline() if sel.select(READY_TIMEOUT) else b""
    proc.stdout.close()
    if line != b"ready\n":
        proc.kill()
        proc.wait()
        try:
            with open(os.path.join(root, "slurmctld.log"), errors="replace") as fh:
                log = fh.read()[-2000:]
        except OSError:
            log = "(no log)"
        raise RuntimeError(f"MockSlurm: the controller of {root} did not start within {READY_TIMEOUT} s "
                           f"(exit status {proc.poll()}); its log ends with:\n{log}")


def package_parent() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.dirname(os.path.dirname(os.path.dirname(here)))


_CONTROLLER_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from pytest_executorlib.mocks.slurm.controller import main; "
    "sys.exit(main(sys.argv[2], int(sys.argv[3])))"
)


# --- SLURM's text formats ------------------------------------------------------------------------------


def iso(t: float | None) -> str:
    """SLURM's time stamps: ``2026-11-29T16:10:00`` (local time); ``Unknown`` when unset."""
    if not t:
        return "Unknown"
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t))


def duration(seconds: float | None) -> str:
    """``squeue %M`` / ``RunTime=``: ``M:SS``, ``H:MM:SS``, ``D-HH:MM:SS``."""
    s = int(seconds or 0)
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    if days:
        return f"{days}-{hours:02d}:{minutes:02d}:{s:02d}"
    if hours:
        return f"{hours}:{minutes:02d}:{s:02d}"
    return f"{minutes}:{s:02d}"


def time_limit(seconds: int | None) -> str:
    """``TimeLimit=`` / ``squeue %l``: ``UNLIMITED`` or ``[D-]HH:MM:SS`` (``squeue`` trims leading zeros)."""
    if seconds is None:
        return "UNLIMITED"
    days, s = divmod(int(seconds), 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    if days:
        return f"{days}-{hours:02d}:{minutes:02d}:{s:02d}"
    return f"{hours:02d}:{minutes:02d}:{s:02d}"


def parse_time(text: str) -> int | None:
    """SLURM's ``--time`` formats, in seconds (None: UNLIMITED); ValueError when malformed.

    ``M``, ``M:S``, ``H:M:S``, ``D-H``, ``D-H:M``, ``D-H:M:S``, ``UNLIMITED`` / ``infinite``.
    """
    text = text.strip()
    if text.lower() in ("unlimited", "infinite", "-1"):
        return None
    days = 0
    if "-" in text:
        d, text = text.split("-", 1)
        days = int(d)
        fields = [int(x) for x in text.split(":")]
        if not 1 <= len(fields) <= 3:
            raise ValueError(text)
        h, m, s = (fields + [0, 0])[:3]
    else:
        fields = [int(x) for x in text.split(":")]
        if len(fields) == 1:
            h, m, s = 0, fields[0], 0
        elif len(fields) == 2:
            h, m, s = 0, fields[0], fields[1]
        elif len(fields) == 3:
            h, m, s = fields
        else:
            raise ValueError(text)
    if min(days, h, m, s) < 0:
        raise ValueError(text)
    total = ((days * 24 + h) * 60 + m) * 60 + s
    if total == 0:
        raise ValueError(text)
    return total


def nodelist(names: list[str]) -> str:
    """Compress ``["n1", "n2", "n4"]`` to SLURM's host list ``n[1-2,4]`` (``n1`` alone stays ``n1``)."""
    if not names:
        return ""
    if len(names) == 1:
        return names[0]
    numbers = sorted(int(n[1:]) for n in names)
    ranges: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        ranges.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return f"n[{','.join(ranges)}]"


def decode_alloc(alloc: str) -> list[tuple[str, int, int, int]]:
    """``"n1:2:0:2,n2:2:1:2"`` -> [(node, cpus, gpus, tasks), ...] as stored in ``jobs.alloc``."""
    out = []
    for item in alloc.split(","):
        if item:
            name, cpus, gpus, tasks = item.split(":")
            out.append((name, int(cpus), int(gpus), int(tasks)))
    return out


def user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (KeyError, ImportError):  # pragma: no cover
        return str(os.getuid())
