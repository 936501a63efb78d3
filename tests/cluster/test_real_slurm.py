"""SlurmClusterExecutor on the real single-node SLURM of ci/start-slurm.sh (skipped without one, failed in CI)."""

from __future__ import annotations

import subprocess
import time

import pytest
from clusterfns import add, slow, total

from executor import SlurmClusterExecutor
from executor.schedulers.files import QueueJobError


def partition() -> str:
    out = subprocess.run(["sinfo", "--noheader", "--format=%P"], capture_output=True, text=True, timeout=30).stdout
    return out.split()[0].rstrip("*")


def test_calls_and_several_parents_on_real_slurm(real_slurm, cache: str) -> None:
    with SlurmClusterExecutor(cache_directory=cache, resource_dict={"partition": partition()}) as exe:
        a, b = exe.submit(add, 1, 2), exe.submit(add, 10, 20)
        assert exe.submit(total, a, b, 100).result(timeout=180) == 133


def test_a_job_cancelled_outside_fails_its_future_on_real_slurm(real_slurm, cache: str) -> None:
    with SlurmClusterExecutor(cache_directory=cache, resource_dict={"partition": partition()}) as exe:
        future = exe.submit(slow, 1, 120)
        deadline = time.monotonic() + 120
        job = None
        while job is None:  # find our job by its working directory (the machine's SLURM is shared)
            listed = subprocess.run(["squeue", "--noheader", "--format=%A|%Z"], capture_output=True, text=True, timeout=30).stdout
            job = next((line.split("|")[0] for line in listed.splitlines() if cache in line), None)
            assert time.monotonic() < deadline, f"our job never showed in squeue: {listed}"
            time.sleep(0.2)
        subprocess.run(["scancel", job], check=True, timeout=30)
        with pytest.raises(QueueJobError, match=rf"queue job {job} .*CANCELLED"):
            future.result(timeout=120)
