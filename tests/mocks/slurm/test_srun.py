"""Mock srun against real SLURM 22.05 behaviour (docs/slurm.md, cluster-executors note §4)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_executorlib.mocks.slurm import MockSlurm

from slurm_helpers import Run

ENV_PROBE = ("import os, json; print(json.dumps({k: v for k, v in os.environ.items() "
             "if k.startswith(('SLURM', 'PMI_'))}))")


def _envs(stdout: str) -> list[dict[str, str]]:
    import json

    return sorted((json.loads(line) for line in stdout.splitlines()), key=lambda e: int(e["SLURM_PROCID"]))


def test_task_environment(run: Run, work: Path) -> None:
    r = run("srun", "-n", "2", sys.executable, "-c", ENV_PROBE)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    e0, e1 = _envs(r.stdout)
    job = e0["SLURM_JOB_ID"]
    for rank, e in enumerate((e0, e1)):
        assert e["SLURM_JOB_ID"] == e["SLURM_JOBID"] == job
        assert e["SLURM_STEP_ID"] == e["SLURM_STEPID"] == "0"
        assert e["SLURM_PROCID"] == e["SLURM_LOCALID"] == e["PMI_RANK"] == str(rank)
        assert e["SLURM_NODEID"] == "0"
        assert e["SLURM_NTASKS"] == e["SLURM_NPROCS"] == e["SLURM_STEP_NUM_TASKS"] == e["PMI_SIZE"] == "2"
        assert e["SLURM_GTIDS"] == "0,1"
        assert e["SLURM_JOB_NAME"] == Path(sys.executable).name
        assert e["SLURM_SUBMIT_DIR"] == str(work)
        assert e["SLURM_JOB_NODELIST"] == e["SLURMD_NODENAME"] == "n1"
        assert e["SLURM_JOB_NUM_NODES"] == "1"
        assert e["SLURM_CPUS_ON_NODE"] == "2"
        assert e["SLURM_JOB_PARTITION"] == "debug"
        assert e["SLURM_MPI_TYPE"] == "pmi2"
        assert e["PMI_JOBID"] == f"{job}.0"
        assert "PMI_FD" in e
        assert "SLURM_CPUS_PER_TASK" not in e  # only with -c


def test_cpus_per_task_only_with_c(run: Run) -> None:
    r = run("srun", "-c", "2", sys.executable, "-c", ENV_PROBE)
    (env,) = _envs(r.stdout)
    assert env["SLURM_CPUS_PER_TASK"] == "2"
    assert env["SLURM_CPUS_ON_NODE"] == "2"


def test_job_ids_increase_and_are_shared_with_sbatch(run: Run, work: Path) -> None:
    first = _envs(run("srun", sys.executable, "-c", ENV_PROBE).stdout)[0]["SLURM_JOB_ID"]
    (work / "j.sh").write_text("#!/bin/sh\ntrue\n")
    second = run("sbatch", "--parsable", "j.sh").stdout.strip()
    run("srun", "-p", "nosuch", "true")  # rejected: uses no id
    third = _envs(run("srun", sys.executable, "-c", ENV_PROBE).stdout)[0]["SLURM_JOB_ID"]
    assert [int(first), int(second), int(third)] == [int(first), int(first) + 1, int(first) + 2]


def test_exit_code_is_the_highest_task_code(run: Run) -> None:
    r = run("srun", "-n", "3", "sh", "-c", "exit $((SLURM_PROCID + 3))")
    assert r.returncode == 5
    assert r.stderr.splitlines() == [
        "srun: error: n1: task 0: Exited with exit code 3",
        "srun: error: n1: task 1: Exited with exit code 4",
        "srun: error: n1: task 2: Exited with exit code 5",
    ]


def test_same_code_groups_tasks(run: Run) -> None:
    r = run("srun", "-n", "2", "sh", "-c", "exit 7")
    assert r.returncode == 7
    assert r.stderr == "srun: error: n1: tasks 0-1: Exited with exit code 7\n"


def test_missing_program(run: Run) -> None:
    r = run("srun", "no-such-program-xyz")
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        "slurmstepd-n1: error: execve(): no-such-program-xyz: No such file or directory",
        "srun: error: n1: task 0: Exited with exit code 2",
    ]


@pytest.mark.parametrize(("sig", "rc", "word"), [(signal.SIGKILL, 137, "Killed"), (signal.SIGTERM, 143, "Terminated")])
def test_task_killed_by_signal(run: Run, cluster: MockSlurm, sig: int, rc: int, word: str) -> None:
    r = run("srun", "sh", "-c", f"kill -{int(sig)} $$")
    assert r.returncode == rc
    lines = r.stderr.splitlines()
    assert lines[0] == f"srun: error: n1: task 0: {word}"
    assert lines[1:] == [f"srun: Force Terminated StepId={cluster.jobs()[0].id}.0"]


def test_failing_rank_lets_the_others_finish(run: Run) -> None:
    r = run("srun", "-n", "2", "sh", "-c", 'if [ "$SLURM_PROCID" = 0 ]; then exit 3; fi; sleep 0.3; echo done')
    assert r.returncode == 3
    assert r.stdout == "done\n"


def test_kill_on_bad_exit_cancels_the_step(run: Run) -> None:
    r = run("srun", "-K", "-n", "2", "sh", "-c", 'if [ "$SLURM_PROCID" = 0 ]; then exit 3; fi; sleep 30')
    assert r.returncode == 143
    assert "task 1: Terminated" in r.stderr


@pytest.mark.parametrize(
    ("argv", "rc", "message"),
    [
        (["-p", "nosuch"], 1, "srun: error: Unable to allocate resources: Invalid partition name specified"),
        (["--gres=gpu:1"], 1, "srun: error: Invalid generic resource (gres) specification"),
        (["--gres=foo:1"], 1, "srun: error: Invalid generic resource (gres) specification"),
        (["--mem=100G"], 1, "srun: error: Memory specification can not be satisfied"),
        (["--mem=100G"], 1, "srun: error: Unable to allocate resources: Requested node configuration is not available"),
        (["--mpi=pmix"], 1, "srun: error: Invalid MPI type 'pmix', --mpi=list for acceptable types"),
        (["--time=abc"], 255, "srun: error: Invalid --time specification"),
        (["--bogus"], 255, "srun: unrecognized option '--bogus'"),
    ],
)
def test_bad_requests_fail_at_once(run: Run, cluster: MockSlurm, argv: list[str], rc: int, message: str) -> None:
    r = run("srun", *argv, "true")
    assert r.returncode == rc
    assert message in r.stderr.splitlines()
    assert cluster.jobs() == []


def test_missing_chdir_falls_back(run: Run) -> None:
    r = run("srun", "-D", "/nonexistent/dir", "pwd")
    assert r.returncode == 0
    assert r.stdout.strip() == "/tmp"
    assert r.stderr == ("slurmstepd-n1: error: couldn't chdir to `/nonexistent/dir': No such file or directory: "
                        "going to /tmp instead\n")


@pytest.mark.mpi(ranks=2)
def test_ranks_form_one_comm_world(run: Run) -> None:
    pytest.importorskip("mpi4py")
    code = ("import os; from mpi4py import MPI; c = MPI.COMM_WORLD; "  # one write per rank: tasks share srun's stdout
            "os.write(1, f'{c.Get_rank()} {c.Get_size()} {c.allreduce(c.Get_rank() + 1)}\\n'.encode())")
    r = run("srun", "-n", "3", "--mpi=pmi2", sys.executable, "-c", code, timeout=120)
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.splitlines()) == ["0 3 6", "1 3 6", "2 3 6"]


def test_never_satisfiable_waits_until_cancelled(run: Run, cluster: MockSlurm) -> None:
    proc = subprocess.Popen(["srun", "-n", "5", "true"], env=cluster.environ(), stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    first = proc.stderr.readline()
    second = proc.stderr.readline()
    assert first == "srun: Requested partition configuration not available now\n"
    job = cluster.jobs()[0]
    assert second == f"srun: job {job.id} queued and waiting for resources\n"
    assert (job.state, job.reason) == ("PENDING", "PartitionConfig")
    assert run("scancel", str(job.id)).returncode == 0
    assert proc.wait(timeout=30) == 1
    assert proc.stderr.read().splitlines() == [
        "srun: Job has been cancelled",
        "srun: error: Unable to allocate resources: Job/step already completing or completed",
    ]
    assert cluster.job(job.id).state == "CANCELLED"


@pytest.mark.parametrize("argv", [["-c", "8"], ["-N", "2"]])
def test_larger_than_a_node_or_the_partition_waits(run: Run, cluster: MockSlurm, argv: list[str]) -> None:
    (Path(cluster.root).parent / "work" / "t.sh").write_text("#!/bin/sh\ntrue\n")
    job = int(run("sbatch", "--parsable", *argv, "t.sh").stdout)
    pending = cluster.wait(job, until=lambda j: j.reason != "None")
    assert (pending.state, pending.reason) == ("PENDING", "PartitionConfig")


def test_busy_cluster_queues_then_allocates(run: Run, cluster: MockSlurm) -> None:
    cluster.hold_new_jobs()
    blocker = subprocess.Popen(["srun", "-n", "4", "true"], env=cluster.environ(), stderr=subprocess.PIPE, text=True)
    assert blocker.stderr is not None
    assert "queued and waiting for resources" in blocker.stderr.readline()
    cluster.hold_new_jobs(False)
    cluster.release()
    assert blocker.wait(timeout=30) == 0
    assert blocker.stderr.read() == f"srun: job {cluster.jobs()[0].id} has been allocated resources\n"


def test_scancel_of_a_running_step(run: Run, cluster: MockSlurm) -> None:
    proc = subprocess.Popen(["srun", "sh", "-c", "echo started; exec sleep 60"], env=cluster.environ(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline() == "started\n"
    job = cluster.jobs()[0]
    run("scancel", str(job.id))
    assert proc.wait(timeout=30) == 143
    lines = proc.stderr.read().splitlines()
    assert lines[0].startswith(f"slurmstepd-n1: error: *** STEP {job.id}.0 ON n1 CANCELLED AT ")
    assert lines[1:] == ["srun: error: n1: task 0: Terminated", f"srun: Force Terminated StepId={job.id}.0"]
    assert cluster.job(job.id).state == "CANCELLED"


def test_time_limit(run: Run, cluster: MockSlurm) -> None:
    r = run("srun", "--time=0:01", "sleep", "60")
    assert r.returncode == 143
    lines = r.stderr.splitlines()
    assert lines[0] == "srun: Job step aborted: Waiting up to 32 seconds for job step to finish."
    assert lines[1].endswith(" DUE TO TIME LIMIT ***")
    assert cluster.jobs()[0].state == "TIMEOUT"


def test_srun_killed_frees_its_job(cluster: MockSlurm) -> None:
    proc = subprocess.Popen(["srun", "sh", "-c", "echo up; exec sleep 60"], env=cluster.environ(),
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "up\n"
    proc.kill()
    proc.wait()
    job = cluster.wait(cluster.jobs()[0].id, timeout=30)
    assert job.state == "CANCELLED"


def test_step_inside_a_batch_job(run: Run, cluster: MockSlurm, work: Path) -> None:
    (work / "steps.sh").write_text(
        "#!/bin/sh\n#SBATCH --ntasks=2\n#SBATCH --output=out.txt\n"
        "echo batch $SLURM_JOB_ID ${SLURM_STEP_ID:-none} $SLURM_NTASKS\n"
        "srun sh -c 'echo step $SLURM_JOB_ID $SLURM_STEP_ID $SLURM_PROCID' | sort\n"
        "srun -n 1 sh -c 'echo step $SLURM_JOB_ID $SLURM_STEP_ID $SLURM_PROCID'\n"
        "srun -n 3 true\necho rc=$?\n"
    )
    job_id = int(run("sbatch", "--parsable", "steps.sh").stdout)
    assert cluster.wait(job_id, timeout=60).state == "COMPLETED"
    assert (work / "out.txt").read_text().splitlines() == [
        f"batch {job_id} none 2",
        f"step {job_id} 0 0",
        f"step {job_id} 0 1",
        f"step {job_id} 1 0",
        f"srun: error: Unable to create step for job {job_id}: More processors requested than permitted",
        "rc=1",
    ]


def test_srun_terminated_forces_the_step_down(cluster: MockSlurm) -> None:
    proc = subprocess.Popen(["srun", "sh", "-c", "echo up; exec sleep 60"], env=cluster.environ(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline() == "up\n"
    proc.terminate()
    assert proc.wait(timeout=30) == 137  # as real 22.05: the tasks are killed
    job = cluster.jobs()[0]
    lines = proc.stderr.read().splitlines()
    assert lines[:2] == ["srun: forcing job termination",
                         "srun: Job step aborted: Waiting up to 32 seconds for job step to finish."]
    assert lines[2].startswith(f"slurmstepd-n1: error: *** STEP {job.id}.0 ON n1 CANCELLED AT ")
    assert lines[3:] == ["srun: error: n1: task 0: Killed"]
    assert cluster.job(job.id).state == "CANCELLED"


def test_task_environment_names_match_real_slurm(run: Run) -> None:
    """The SLURM_*/PMI_* names a task sees, as listed on real SLURM 22.05 (ci/start-slurm.sh, srun -n2).

    Not set by the mock: SLURM_CONF (there is no slurm.conf) and SLURM_TASK_PID (the tasks are exec'ed
    directly, their pid is unknown before).
    """
    real = {
        "PMI_FD", "PMI_JOBID", "PMI_RANK", "PMI_SIZE", "SLURMD_NODENAME", "SLURM_CLUSTER_NAME", "SLURM_CPUS_ON_NODE",
        "SLURM_GTIDS", "SLURM_JOBID", "SLURM_JOB_CPUS_PER_NODE", "SLURM_JOB_GID", "SLURM_JOB_ID", "SLURM_JOB_NAME",
        "SLURM_JOB_NODELIST", "SLURM_JOB_NUM_NODES", "SLURM_JOB_PARTITION", "SLURM_JOB_UID", "SLURM_JOB_USER",
        "SLURM_LAUNCH_NODE_IPADDR", "SLURM_LOCALID", "SLURM_MPI_TYPE", "SLURM_NNODES", "SLURM_NODEID",
        "SLURM_NODELIST", "SLURM_NPROCS", "SLURM_NTASKS", "SLURM_PRIO_PROCESS", "SLURM_PROCID",
        "SLURM_SRUN_COMM_HOST", "SLURM_SRUN_COMM_PORT", "SLURM_STEPID", "SLURM_STEP_ID", "SLURM_STEP_LAUNCHER_PORT",
        "SLURM_STEP_NODELIST", "SLURM_STEP_NUM_NODES", "SLURM_STEP_NUM_TASKS", "SLURM_STEP_TASKS_PER_NODE",
        "SLURM_SUBMIT_DIR", "SLURM_SUBMIT_HOST", "SLURM_TASKS_PER_NODE", "SLURM_TOPOLOGY_ADDR",
        "SLURM_TOPOLOGY_ADDR_PATTERN", "SLURM_UMASK", "SLURM_WORKING_CLUSTER",
    }
    r = run("srun", "-n", "2", sys.executable, "-c", ENV_PROBE)
    for env in _envs(r.stdout):
        assert set(env) == real


def test_label_and_stdin(run: Run) -> None:
    r = run("srun", "-l", "-n", "2", "sh", "-c", 'read line; echo "$SLURM_PROCID got ${line:-nothing}"', input="hello\n")
    assert r.returncode == 0
    assert sorted(r.stdout.splitlines()) == ["0: 0 got hello", "1: 1 got hello"]  # stdin goes to every task


def test_terminating_a_waiting_srun_cancels_its_job(cluster: MockSlurm) -> None:
    proc = subprocess.Popen(["srun", "-n", "5", "true"], env=cluster.environ(), stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    proc.stderr.readline()
    job = cluster.jobs()[0]
    assert proc.stderr.readline() == f"srun: job {job.id} queued and waiting for resources\n"
    proc.terminate()
    assert proc.wait(timeout=30) == 1
    assert proc.stderr.read() == f"srun: Job allocation {job.id} has been revoked\n"
    assert cluster.job(job.id).state == "CANCELLED"
