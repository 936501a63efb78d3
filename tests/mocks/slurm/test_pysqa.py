"""pysqa's SLURM adapter (what executorlib's SlurmClusterExecutor uses) against the mock: submit, status, cancel."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pytest_executorlib.mocks.slurm import MockSlurm

pysqa = pytest.importorskip("pysqa", reason="pysqa (the 'cluster' extra) is not installed")


def _adapter(cluster: MockSlurm) -> Any:
    env = cluster.environ()

    def execute(commands: list[str] | str, working_directory: str | None = None, split_output: bool = True,
                shell: bool = False, error_filename: str = "pysqa.err") -> Any:
        out = subprocess.check_output(commands, cwd=working_directory, env=env, shell=shell, text=True,
                                      stderr=subprocess.STDOUT, timeout=60)
        return out.split("\n") if split_output else out

    return pysqa.QueueAdapter(queue_type="slurm", execute_command=execute)


def test_submit_status_cancel(cluster: MockSlurm, tmp_path: Path) -> None:
    adapter = _adapter(cluster)
    cluster.hold_new_jobs()
    wd = tmp_path / "pysqa"
    job = adapter.submit_job(working_directory=str(wd), job_name="xlibjob", cores=2, run_time_max=120,
                             partition="debug", command="echo from-pysqa")
    assert isinstance(job, int)
    assert adapter.get_status_of_job(process_id=job) == "pending"
    cluster.hold_new_jobs(False)
    cluster.release(job)
    done = cluster.wait(job)
    assert (done.state, done.ntasks, done.time_limit, done.name) == ("COMPLETED", 2, 120, "xlibjob")
    assert (wd / "time.out").read_text() == "from-pysqa\n"
    assert sorted(os.listdir(wd)) == ["run_queue.sh", "time.out"]  # nothing but the job's own files
    assert adapter.get_status_of_job(process_id=job) is None  # finished jobs leave squeue

    second = adapter.submit_job(working_directory=str(wd), job_name="sleeper", cores=1, run_time_max=60,
                                partition="debug", command="sleep 60", dependency_list=[str(job)])
    cluster.wait(second, until=lambda j: j.state == "RUNNING")
    assert adapter.get_status_of_job(process_id=second) == "running"
    adapter.delete_job(process_id=second)
    assert cluster.wait(second).state == "CANCELLED"
    assert adapter.get_status_of_job(process_id=second) is None
    assert [c.argv[:1] for c in cluster.calls("sbatch")] == [["--parsable"], ["--parsable"]]


def test_missing_partition_is_rejected_as_real_slurm_does(cluster: MockSlurm, tmp_path: Path) -> None:
    adapter = _adapter(cluster)
    with pytest.raises(subprocess.CalledProcessError) as failed:
        adapter.submit_job(working_directory=str(tmp_path / "p"), job_name="x", cores=1, run_time_max=60,
                           command="true")
    assert "Batch job submission failed: Invalid partition name specified" in failed.value.output
    assert cluster.jobs() == []
