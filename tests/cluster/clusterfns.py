"""Functions the cluster tests run as batch jobs (a small module: each job imports it)."""

from __future__ import annotations

import os
import time


def add(a: int, b: int) -> int:
    return a + b


def total(*values: int) -> int:
    return sum(values)


def boom(message: str) -> None:
    raise ValueError(message)


def pair(a: int) -> tuple[int, int]:
    return a, a * 10


def job_id() -> str:
    return os.environ.get("SLURM_JOB_ID", "")


def slow(value: int, seconds: float) -> int:
    time.sleep(seconds)
    return value


def mpi_rank() -> tuple[int, int]:
    from mpi4py import MPI

    return MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
