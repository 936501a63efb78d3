"""The mock SLURM commands (``srun``, ``sbatch``, ``squeue``, ``scancel``, ``scontrol``, ``sinfo``, ``sacct``).

Each is one module with ``main(cluster, argv) -> int``.  The shims in ``<root>/bin`` run
``python -I -S`` and call :func:`main` here, which logs the call (the control API's call log) and dispatches;
nothing on this path imports pytest, json, re or subprocess.
"""

from __future__ import annotations

import importlib
import sys

from pytest_executorlib.mocks.slurm import common, db

COMMANDS = ("srun", "sbatch", "squeue", "scancel", "scontrol", "sinfo", "sacct")


def main(root: str, command: str, argv: list[str]) -> int:
    """Run mock ``command`` of the cluster in ``root`` with ``argv``; returns the exit status."""
    cluster = common.Cluster(root, command)
    try:
        db.log_call(cluster.conn, command, argv)
        if cluster.stopped():
            cluster.down()
        module = importlib.import_module(f"pytest_executorlib.mocks.slurm.commands.{command}")
        return int(module.main(cluster, argv))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except KeyboardInterrupt:
        return 130
    finally:
        sys.stdout.flush()
