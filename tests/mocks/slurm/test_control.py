"""The control API: job table, call log, holding, fault injection."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from slurm_helpers import Run

from pytest_executorlib.mocks.slurm import MockSlurm

SH = "#!/bin/sh\n"


def test_call_log(run: Run, cluster: MockSlurm, work: Path) -> None:
    run("srun", "-n1", "true")
    run("squeue", "--noheader")
    calls = cluster.calls()
    assert [(c.command, c.argv) for c in calls] == [("srun", ["-n1", "true"]), ("squeue", ["--noheader"])]
    assert calls[0].cwd == str(work) and calls[0].job == ""
    assert [c.argv for c in cluster.calls("squeue")] == [["--noheader"]]


def test_calls_from_inside_a_job_name_the_job(run: Run, cluster: MockSlurm, work: Path) -> None:
    (work / "j.sh").write_text(SH + "squeue -h > /dev/null\n")
    job = int(run("sbatch", "--parsable", "j.sh").stdout)
    cluster.wait(job)
    assert [c.job for c in cluster.calls("squeue")] == [str(job)]


def test_hold_and_release(run: Run, cluster: MockSlurm, work: Path) -> None:
    cluster.hold_new_jobs()
    (work / "j.sh").write_text(SH + "true\n")
    jobs = [int(run("sbatch", "--parsable", "j.sh").stdout) for _ in range(2)]
    assert [(j.state, j.held) for j in cluster.jobs()] == [("PENDING", True)] * 2
    cluster.release(jobs[0])
    assert cluster.wait(jobs[0]).state == "COMPLETED"
    assert cluster.job(jobs[1]).state == "PENDING"
    cluster.release()
    assert cluster.wait(jobs[1]).state == "COMPLETED"


@pytest.mark.parametrize(
    ("kind", "value", "state", "exit_code", "signal"),
    [("exit", 5, "FAILED", 5, 0), ("no_output", None, "FAILED", 0, 9), ("nodefail", None, "NODE_FAIL", 0, 0),
     ("timeout", None, "TIMEOUT", 0, 15)],
)
def test_batch_faults(run: Run, cluster: MockSlurm, work: Path, kind: str, value: int | None, state: str,
                      exit_code: int, signal: int) -> None:
    cluster.hold_new_jobs()
    (work / "j.sh").write_text(SH + "echo ran > ran.txt\nsleep 30\n")
    job = int(run("sbatch", "--parsable", "j.sh").stdout)
    cluster.fault(job, kind, value)
    cluster.release(job)
    done = cluster.wait(job)
    assert (done.state, done.exit_code, done.signal) == (state, exit_code, signal)
    if kind != "timeout":  # these end the job before it runs; a time-out at once may or may not let it start
        assert not (work / "ran.txt").exists()


def test_preempt_requeues_and_runs_again(run: Run, cluster: MockSlurm, work: Path) -> None:
    cluster.fault_next("preempt", 0.2, command="sbatch")
    (work / "j.sh").write_text(SH + "echo run >> runs.txt\nsleep 1\n")
    job = int(run("sbatch", "--parsable", "j.sh").stdout)
    done = cluster.wait(job, until=lambda j: j.state == "COMPLETED")
    assert done.restarts == 1
    assert (work / "runs.txt").read_text() == "run\nrun\n"


def test_srun_faults(run: Run, cluster: MockSlurm) -> None:
    cluster.fault_next("exit", 4, command="srun")
    r = run("srun", "-n", "2", "true")
    assert (r.returncode, r.stderr) == (4, "srun: error: n1: tasks 0-1: Exited with exit code 4\n")
    cluster.fault_next("nodefail")
    r = run("srun", "true")
    assert r.returncode == 143
    assert r.stderr.splitlines()[0] == "srun: error: Node failure on n1"
    cluster.fault_next("preempt")
    r = run("srun", "sleep", "30")
    assert r.returncode == 143 and r.stderr.splitlines()[0].endswith(" DUE TO PREEMPTION ***")
    assert [j.state for j in cluster.jobs()] == ["FAILED", "NODE_FAIL", "PREEMPTED"]


def test_sbatch_rejection_uses_no_job_id(run: Run, cluster: MockSlurm, work: Path) -> None:
    cluster.fault_next("reject", "Maximum job count reached", command="sbatch")
    (work / "j.sh").write_text(SH + "true\n")
    r = run("sbatch", "--parsable", "j.sh")
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == "sbatch: error: Batch job submission failed: Maximum job count reached\n"
    assert cluster.jobs() == []
    assert run("sbatch", "--parsable", "j.sh").returncode == 0  # only the next one


def test_bad_control_arguments(cluster: MockSlurm) -> None:
    with pytest.raises(ValueError, match="unknown fault 'explode'; accepted: exit, nodefail"):
        cluster.fault(1, "explode")
    with pytest.raises(ValueError, match="exit code 1..255"):
        cluster.fault_next("exit", 0)
    with pytest.raises(KeyError, match="no job 7"):
        cluster.job(7)
    with pytest.raises(ValueError, match="gpus_per_node must be an int >= 0"):
        MockSlurm(cluster.root / "x", gpus_per_node=-1)


def test_environ_drops_an_outer_allocation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLURM_JOB_ID", "123456")
    with MockSlurm(tmp_path / "c") as cluster:
        assert "SLURM_JOB_ID" not in cluster.environ()
        r = subprocess.run(["srun", "sh", "-c", "echo $SLURM_JOB_ID"], env=cluster.environ(), capture_output=True,
                           text=True, timeout=60)
        assert r.stdout == f"{cluster.jobs()[0].id}\n"
        cluster.activate()
        import os

        assert os.environ["PATH"].startswith(str(cluster.bin)) and "SLURM_JOB_ID" not in os.environ
    assert os.environ["SLURM_JOB_ID"] == "123456" and not os.environ["PATH"].startswith(str(cluster.bin))


def test_node_failure_during_a_running_step(run: Run, cluster: MockSlurm) -> None:
    cluster.fault_next("nodefail", 0.5)
    r = run("srun", "sh", "-c", "echo running; exec sleep 30")
    assert (r.returncode, r.stdout) == (143, "running\n")
    lines = r.stderr.splitlines()
    assert lines[0] == "srun: error: Node failure on n1"
    # real 22.05's suffix (measured on the 3-node cluster of ci/start-slurm-multinode.sh)
    assert lines[1].endswith(" DUE TO NODE FAILURE, SEE SLURMCTLD LOG FOR DETAILS ***")
    assert lines[2:4] == ["srun: error: Node failure on n1",
                          "srun: Job step aborted: Waiting up to 32 seconds for job step to finish."]
    assert (cluster.jobs()[0].state, cluster.jobs()[0].reason) == ("NODE_FAIL", "NodeDown")
