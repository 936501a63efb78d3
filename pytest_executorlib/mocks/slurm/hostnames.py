"""Per-node host names: a task of the mock's node ``n2`` sees ``hostname`` = ``n2``, as on a real cluster.

Real multi-node SLURM on one machine (ci/start-slurm-multinode.sh) runs each slurmd in its own UTS and mount
namespace, so its tasks see the node's host name, and a hosts file naming n1..nN (127.0.0.2..) is bind-mounted
over ``/etc/hosts`` there, so ``gethostbyname(gethostname())`` works in a task.  The mock does the same per
task: the task's program is started through ``unshare --uts --mount --propagation slave sh -c 'hostname nX &&
mount --bind <root>/hosts /etc/hosts && exec "$@"'`` (``unshare`` without ``--fork`` execs, ``sh`` execs: the
task keeps the pid the mock watches).  That needs root (or CAP_SYS_ADMIN); :func:`probe` checks it once when
the cluster is created.  Without it (or with ``MockSlurm(node_hostnames=False)``) every task sees the machine's
host name and only ``SLURMD_NODENAME`` / ``SLURM_NODEID`` tell the nodes apart (documented in docs/slurm.md).

Imported by every mock ``srun``: only :mod:`os` at module level (``subprocess`` and ``shutil`` cost a command's
start-up several milliseconds; :func:`probe` imports them when a cluster is created).
"""

from __future__ import annotations

import os

#: Meta key in the cluster database: "1" when tasks get their node's host name.
META_KEY = "node_hostnames"
_SCRIPT = 'hostname "$0" && mount --bind "$XLIB_MOCK_HOSTS" /etc/hosts && unset XLIB_MOCK_HOSTS && exec "$@"'


def write_hosts(root: str, names: list[str]) -> str:
    """The hosts file of the cluster: localhost and the machine, then nX -> 127.0.0.(X+1)."""
    import socket

    path = os.path.join(root, "hosts")
    lines = [f"127.0.0.1 localhost {socket.gethostname()}"]
    lines += [f"127.0.0.{i + 2} {name}" for i, name in enumerate(names)]
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def probe(root: str) -> bool:
    """Whether ``unshare --uts --mount`` works here (root, a kernel and container that allow it); bounded."""
    import shutil
    import subprocess

    unshare = shutil.which("unshare")
    if unshare is None or not shutil.which("hostname") or not shutil.which("mount"):
        return False
    try:
        done = subprocess.run([unshare, "--uts", "--mount", "--propagation", "slave", "sh", "-c", _SCRIPT, "n1",
                               "true"], env={**os.environ, "XLIB_MOCK_HOSTS": os.path.join(root, "hosts")},
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def wrap(node: str, path: str, argv: list[str], env: dict[str, str], root: str) -> tuple[str, list[str]]:
    """(program, argv) that runs ``path argv[1:]`` with host name ``node`` (``env`` gets the hosts file)."""
    env["XLIB_MOCK_HOSTS"] = os.path.join(root, "hosts")
    program = next((p for p in ("/usr/bin/unshare", "/bin/unshare") if os.path.exists(p)), None)
    if program is None:
        import shutil

        program = shutil.which("unshare") or "unshare"
    return program, ["unshare", "--uts", "--mount", "--propagation", "slave", "sh", "-c", _SCRIPT, node, path,
                     *argv[1:]]
