"""``xlib mock-env slurm``: a mock cluster for any program, outside pytest.

``eval "$(xlib mock-env slurm --nodes 2)"`` creates a cluster in a new temporary directory, starts its
controller (detached, with no owner), and prints POSIX ``export`` lines (PATH with the shim directory first,
``XLIB_MOCK_SLURM_ROOT``) plus ``unset`` lines for the SLURM variables of an enclosing allocation.

Where it ends: no context exits here, so the controller exits by itself after ``XLIB_MOCK_SLURM_IDLE`` seconds
(default 600) without jobs or commands -- the next mock command starts it again, the state lives in the
database -- and ``eval "$(xlib mock-env slurm --stop)"`` stops every job and the controller for good, removes
the directory and prints the lines that undo the exports.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from typing import TextIO

from pytest_executorlib.mocks.slurm import common
from pytest_executorlib.mocks.slurm.cluster import ROOT_VARIABLE, MockSlurm, outer_slurm_variable, stop_cluster


def start(nodes: int, cpus_per_node: int, gpus_per_node: int, out: TextIO) -> int:
    """Create and start a cluster; print the shell lines that put it on PATH."""
    root = tempfile.mkdtemp(prefix="xlib-mock-slurm-")
    cluster = MockSlurm(os.path.join(root, "cluster"), nodes=nodes, cpus_per_node=cpus_per_node,
                        gpus_per_node=gpus_per_node)
    cluster.create()
    common.start_controller(str(cluster.root), detached=True)
    for name in sorted(k for k in os.environ if outer_slurm_variable(k)):
        out.write(f"unset {name}\n")
    for name, value in cluster.env.items():
        out.write(f"export {name}={shlex.quote(value)}\n")
    return 0


def stop(out: TextIO, err: TextIO) -> int:
    """Stop the cluster named by ``XLIB_MOCK_SLURM_ROOT``; print the lines that undo ``start``."""
    root = os.environ.get(ROOT_VARIABLE)
    if not root or not os.path.exists(os.path.join(root, "slurm.db")):
        err.write(f"xlib mock-env slurm --stop: no mock cluster: {ROOT_VARIABLE} is "
                  f"{'unset' if not root else repr(root) + ' (no slurm.db there)'}\n")
        return 1
    stop_cluster(root)
    shim_dir = os.path.join(root, "bin")
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != shim_dir)
    parent = os.path.dirname(root)
    shutil.rmtree(parent if os.path.basename(parent).startswith("xlib-mock-slurm-") else root, ignore_errors=True)
    out.write(f"export PATH={shlex.quote(path)}\nunset {ROOT_VARIABLE}\n")
    return 0
