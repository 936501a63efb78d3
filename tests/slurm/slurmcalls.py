"""Functions the SLURM executor tests run inside srun workers (importable by the workers: same sys.path)."""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def where() -> dict[str, Any]:
    """What a call sees of its SLURM job and environment."""
    env = os.environ
    return {
        "job": env.get("SLURM_JOB_ID"),
        "step": env.get("SLURM_STEP_ID"),
        "ntasks": env.get("SLURM_NTASKS"),
        "cpus_per_task": env.get("SLURM_CPUS_PER_TASK"),
        "threads": {name: env.get(name) for name in THREAD_VARIABLES},
        "secret_visible": any(k in env for k in ("XLIB_WORKER_CONFIG",)),
        "cwd": os.getcwd(),
        "pid": os.getpid(),
        "mpi4py_imported": "mpi4py" in sys.modules,
    }


def double(x: int) -> int:
    return 2 * x


def worker_id(executorlib_worker_id: int) -> int:
    return executorlib_worker_id


def init() -> dict[str, Any]:
    return {"offset": 100}


def add_offset(x: int, offset: int) -> int:
    return x + offset


def die() -> None:
    """Kill this worker in the middle of its call."""
    os.kill(os.getpid(), signal.SIGKILL)


def die_once(marker: str) -> str:
    """Die the first time (leaving ``marker``), succeed on the retry."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    return "retried"


def job_then_sleep(path: str, seconds: float) -> None:
    """Write this call's SLURM job id to ``path``, then sleep (to be cancelled or timed out meanwhile)."""
    with open(path + ".tmp", "w") as file:
        file.write(os.environ.get("SLURM_JOB_ID", ""))
    os.replace(path + ".tmp", path)
    time.sleep(seconds)


def raises() -> None:
    raise ValueError("raised in the worker")
