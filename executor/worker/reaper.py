"""Nothing a call starts outlives its worker: the worker adopts orphans and kills what is left when it ends.

Layer: worker (stdlib only; imported by every worker process, so it stays small and cheap to import).

A call may start processes and return without waiting for them (a ``subprocess.Popen`` child), or start a
daemon that double-forks and calls ``setsid`` to leave the worker's process group.  Signalling the worker's
process group (what ``run_time_max`` and a shutdown do) reaches the first kind only.  So, on Linux:

* every worker process (and the fork server) makes itself a *child subreaper*
  (``prctl(PR_SET_CHILD_SUBREAPER)``): a process orphaned below it is re-parented to it, not to init, so a
  daemon stays findable as a child however it detached;
* when a worker ends, ``end_descendants`` kills its children with SIGKILL and reaps them, round after round:
  the grandchildren of a killed child become its children in turn (it is their subreaper);
* the fork server does the same for what it adopts when a worker was killed before it could clean up
  (``kill_adopted``), so a daemon started by a call that hit its time limit ends with it too.

Children are read from ``/proc/<pid>/task/<tid>/children`` (a scan of ``/proc`` where the kernel lacks it).
Elsewhere (macOS) only the process group is signalled, as before.
"""

from __future__ import annotations

import os
import sys

_PR_SET_CHILD_SUBREAPER = 36
_SIGKILL = 9
_MAX_ROUNDS = 100  # a fork bomb below a worker must not keep its exit going for ever


def adopt_orphans() -> bool:
    """Make this process the subreaper of everything it starts (Linux); True if that worked."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError, ImportError):
        return False


def children(pid: int) -> set[int]:
    """Pids whose parent is ``pid`` (zombies included)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return set()
    out: set[int] = set()
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as file:
                out.update(int(field) for field in file.read().split())
        except FileNotFoundError:
            if os.path.exists(f"/proc/{pid}/task/{tid}"):  # a kernel without CONFIG_PROC_CHILDREN
                return _scan(pid)
        except OSError:
            continue
    return out


def _scan(pid: int) -> set[int]:
    out: set[int] = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as file:
                    data = file.read()
            except OSError:
                continue
            if int(data[data.rindex(b")") + 2 :].split()[1]) == pid:
                out.add(int(entry))
    return out


def kill(pids: set[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, _SIGKILL)
        except ProcessLookupError:
            pass


def end_descendants() -> None:
    """SIGKILL and reap every process this one started that is still a child of it (with ``adopt_orphans``:
    every descendant, however it detached)."""
    me = os.getpid()
    for _ in range(_MAX_ROUNDS):
        kids = children(me)
        if not kids:
            return
        kill(kids)
        for pid in kids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:  # reaped elsewhere (a Popen in another thread)
                pass


def kill_adopted(known: set[int] | dict[int, object]) -> None:
    """Kill this process's children that it did not start itself (orphans it adopted); they are reaped by the
    caller's usual ``waitpid`` loop."""
    kill(children(os.getpid()) - set(known))
