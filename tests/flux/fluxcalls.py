"""Functions the flux executor tests run in workers (importable by every worker: this folder is on sys.path)."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path


def job() -> dict[str, str | int | None]:
    """What the worker sees of its flux job."""
    return {
        "job_id": os.environ.get("FLUX_JOB_ID"),
        "job_size": os.environ.get("FLUX_JOB_SIZE"),
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "omp": os.environ.get("OMP_NUM_THREADS"),
        "config": os.environ.get("XLIB_WORKER_CONFIG"),
        "flux_uri": os.environ.get("FLUX_URI"),
    }


def add(a: int, b: int) -> int:
    return a + b


def whoami(executorlib_worker_id: int, offset: int = 0) -> tuple[int, int, str | None]:
    return executorlib_worker_id + offset, os.getpid(), os.environ.get("FLUX_JOB_ID")


def init_offset() -> dict[str, int]:
    return {"offset": 100}


def ranks(x: int) -> tuple[int, int, int]:
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    return comm.Get_rank(), comm.Get_size(), x


def speak(text: str) -> str:
    print(f"out: {text}", flush=True)
    print(f"err: {text}", file=sys.stderr, flush=True)
    return text


def announce_then_sleep(path: str, seconds: float) -> None:
    """Write this worker's flux job id to ``path`` (atomically), then sleep."""
    tmp = Path(path + ".tmp")
    tmp.write_text(os.environ.get("FLUX_JOB_ID", ""))
    tmp.rename(path)
    time.sleep(seconds)


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def exit_code(code: int) -> None:
    sys.exit(code)
