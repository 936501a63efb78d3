"""Mock sbatch: directives, asynchronous start, output files, dependencies, time limits, cancellation."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from slurm_helpers import Run

from pytest_executorlib.mocks.slurm import MockSlurm

SH = "#!/bin/sh\n"


def submit(run: Run, work: Path, body: str, *argv: str, name: str = "job.sh") -> int:
    (work / name).write_text(body)
    r = run("sbatch", "--parsable", *argv, name)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    return int(r.stdout)


def test_plain_and_parsable_output(run: Run, work: Path) -> None:
    (work / "j.sh").write_text(SH + "true\n")
    plain = run("sbatch", "j.sh")
    parsable = run("sbatch", "--parsable", "j.sh")
    job = int(plain.stdout.split()[-1])
    assert plain.stdout == f"Submitted batch job {job}\n"
    assert parsable.stdout == f"{job + 1}\n"


def test_directives_are_honoured(run: Run, cluster: MockSlurm, work: Path) -> None:
    (work / "sub").mkdir()
    body = (SH + "#SBATCH --job-name=named\n#SBATCH --chdir=sub\n#SBATCH --output=o-%j.txt\n#SBATCH --error=e.txt\n"
            "#SBATCH --ntasks=2\n#SBATCH --time=5\n\n# a comment\necho $SLURM_JOB_NAME $SLURM_NTASKS $(pwd)\n"
            "echo oops >&2\n#SBATCH --job-name=ignored-after-the-first-command\n")
    job = submit(run, work, body)
    done = cluster.wait(job)
    assert (done.state, done.name, done.ntasks, done.time_limit) == ("COMPLETED", "named", 2, 300)
    assert (work / "sub" / f"o-{job}.txt").read_text() == f"named 2 {work / 'sub'}\n"
    assert (work / "sub" / "e.txt").read_text() == "oops\n"


def test_command_line_wins_over_directives(run: Run, cluster: MockSlurm, work: Path) -> None:
    job = submit(run, work, SH + "#SBATCH --job-name=fromfile\ntrue\n", "--job-name=fromcli")
    assert cluster.wait(job).name == "fromcli"


def test_job_environment_is_exported_and_job_level(run: Run, cluster: MockSlurm, work: Path) -> None:
    body = SH + "env | grep -E '^(SLURM_|MY_VAR|ENVIRONMENT)' | sort > env.txt\n"
    (work / "job.sh").write_text(body)
    env = cluster.environ()
    env["MY_VAR"] = "exported"
    r = subprocess.run(["sbatch", "--parsable", "job.sh"], cwd=work, env=env, capture_output=True, text=True,
                       timeout=60)
    job = int(r.stdout)
    cluster.wait(job)
    got = dict(line.split("=", 1) for line in (work / "env.txt").read_text().splitlines())
    assert got["MY_VAR"] == "exported"
    assert got["SLURM_JOB_ID"] == got["SLURM_JOBID"] == str(job)
    assert got["SLURM_SUBMIT_DIR"] == str(work)
    assert got["SLURM_JOB_NODELIST"] == "n1" and got["SLURM_JOB_NUM_NODES"] == "1"
    assert got["ENVIRONMENT"] == "BATCH"
    assert "SLURM_STEP_ID" not in got  # job level
    assert "SLURM_NTASKS" not in got  # only with --ntasks
    assert "SLURM_CPUS_PER_TASK" not in got


def test_rejections(run: Run, cluster: MockSlurm, work: Path) -> None:
    (work / "noshebang.sh").write_text("echo hi\n")
    r = run("sbatch", "noshebang.sh")
    assert r.returncode == 1 and "The first" in r.stderr
    (work / "ok.sh").write_text(SH + "true\n")
    r = run("sbatch", "--bogus", "ok.sh")
    assert (r.returncode, r.stderr.splitlines()[0]) == (255, "sbatch: unrecognized option '--bogus'")
    r = run("sbatch", "-p", "", "ok.sh")
    assert r.returncode == 1
    assert r.stderr.splitlines() == ["sbatch: error: invalid partition specified: (null)",
                                     "sbatch: error: Batch job submission failed: Invalid partition name specified"]
    assert cluster.jobs() == []


def test_default_output_file_and_nothing_else_in_the_job_directory(run: Run, cluster: MockSlurm, work: Path) -> None:
    job = submit(run, work, SH + "echo out\n")
    cluster.wait(job)
    assert sorted(p.name for p in work.iterdir()) == ["job.sh", f"slurm-{job}.out"]
    assert (work / f"slurm-{job}.out").read_text() == "out\n"


def test_failed_job(run: Run, cluster: MockSlurm, work: Path) -> None:
    job = submit(run, work, SH + "exit 7\n")
    done = cluster.wait(job)
    assert (done.state, done.exit_code, done.reason) == ("FAILED", 7, "NonZeroExitCode")
    show = run("scontrol", "show", "job", str(job)).stdout
    assert "JobState=FAILED Reason=NonZeroExitCode" in show and "ExitCode=7:0" in show


def test_dependency_comma_rule(run: Run, cluster: MockSlurm, work: Path) -> None:
    cluster.hold_new_jobs()
    a = submit(run, work, SH + "exit 0\n", name="a.sh")
    b = submit(run, work, SH + "exit 1\n", name="b.sh")
    cluster.hold_new_jobs(False)
    c = submit(run, work, SH + "echo child\n", f"--dependency=afterok:{a},{b}", name="c.sh")
    show = run("scontrol", "show", "job", "-o", str(c)).stdout
    assert f"Dependency=afterok:{a}(unfulfilled),afterany:{b}(unfulfilled)" in show
    cluster.release()
    assert cluster.wait(b).state == "FAILED"  # afterany: a failing B does not block C
    assert cluster.wait(c).state == "COMPLETED"


def test_failed_afterok_parent_leaves_child_pending(run: Run, cluster: MockSlurm, work: Path) -> None:
    parent = submit(run, work, SH + "exit 3\n", name="p.sh")
    child = submit(run, work, SH + "true\n", f"--dependency=afterok:{parent}", name="c.sh")
    cluster.wait(parent)
    # the parent's end triggers a scheduling pass, which gives the child its new reason
    cluster.wait(child, until=lambda j: j.reason != "Dependency")
    r = run("squeue", "-h", "-j", str(child), "-o", "%i %t %r")
    assert r.stdout.split() == [str(child), "PD", "DependencyNeverSatisfied"]
    assert cluster.job(child).state == "PENDING"


def test_unknown_dependency_ids_are_accepted(run: Run, cluster: MockSlurm, work: Path) -> None:
    job = submit(run, work, SH + "true\n", "--dependency=afterok:99999")
    assert cluster.wait(job).state == "COMPLETED"


def test_time_limit_ends_the_job_as_timeout(run: Run, cluster: MockSlurm, work: Path) -> None:
    job = submit(run, work, SH + "echo started\nsleep 60\n", "--time=0:01")
    done = cluster.wait(job)
    assert (done.state, done.exit_code, done.signal) == ("TIMEOUT", 0, 15)
    lines = (work / f"slurm-{job}.out").read_text().splitlines()
    assert lines[0] == "started"
    assert lines[1].startswith(f"slurmstepd-n1: error: *** JOB {job} ON n1 CANCELLED AT ")
    assert lines[1].endswith(" DUE TO TIME LIMIT ***")
    assert "ExitCode=0:15" in run("scontrol", "show", "job", str(job)).stdout


def test_scancel_ends_the_job_as_cancelled(run: Run, cluster: MockSlurm, work: Path) -> None:
    os.mkfifo(work / "started")
    job = submit(run, work, SH + "echo started\necho up > started\nsleep 60\n")
    assert (work / "started").read_text() == "up\n"  # blocks until the job runs (pytest-timeout bounds it)
    assert run("scancel", str(job)).returncode == 0
    assert cluster.wait(job).state == "CANCELLED"
    assert run("squeue", "-h").stdout == ""
    lines = (work / f"slurm-{job}.out").read_text().splitlines()
    assert lines[1].startswith(f"slurmstepd-n1: error: *** JOB {job} ON n1 CANCELLED AT ") and lines[1].endswith(" ***")


def test_sbatch_returns_before_the_job_runs(run: Run, cluster: MockSlurm, work: Path) -> None:
    cluster.hold_new_jobs()
    job = submit(run, work, SH + "true\n")
    assert cluster.job(job).state == "PENDING"
    assert run("squeue", "-h", "-o", "%i %t %R").stdout.split() == [str(job), "PD", "(JobHeldUser)"]
    cluster.release(job)
    assert cluster.wait(job).state == "COMPLETED"


def test_wrap(run: Run, cluster: MockSlurm, work: Path) -> None:
    r = run("sbatch", "--parsable", "--wrap", "echo wrapped")
    job = int(r.stdout)
    assert cluster.wait(job).name == "wrap"
    assert (work / f"slurm-{job}.out").read_text() == "wrapped\n"


@pytest.mark.parametrize("cpus", [2])
def test_pending_until_resources_free(run: Run, tmp_path: Path, work: Path, cpus: int) -> None:
    with MockSlurm(tmp_path / "small", cpus_per_node=cpus) as small:
        env = small.environ()
        (work / "big.sh").write_text(SH + "#SBATCH --ntasks=2\nsleep 0.5\n")
        first = int(subprocess.run(["sbatch", "--parsable", "big.sh"], cwd=work, env=env, capture_output=True,
                                   text=True, timeout=60).stdout)
        second = int(subprocess.run(["sbatch", "--parsable", "big.sh"], cwd=work, env=env, capture_output=True,
                                    text=True, timeout=60).stdout)
        assert small.wait(second).state == "COMPLETED"
        one, two = small.job(first), small.job(second)
        assert two.start_time is not None and one.end_time is not None
        assert two.start_time >= one.end_time  # 2 CPUs: the second waited for the first
        assert os.environ.get("SLURM_JOB_ID") != str(second)


def test_script_arguments(run: Run, cluster: MockSlurm, work: Path) -> None:
    job = submit(run, work, SH + 'echo "$#:$1:$2"\n', "--output=args.txt")
    (work / "a.sh").write_text(SH + 'echo "$#:$1:$2"\n')
    with_args = int(run("sbatch", "--parsable", "--output=args2.txt", "a.sh", "one", "two words").stdout)
    cluster.wait(job)
    cluster.wait(with_args)
    assert (work / "args.txt").read_text() == "0::\n"
    assert (work / "args2.txt").read_text() == "2:one:two words\n"


def test_batch_variable_names_match_real_slurm(run: Run, cluster: MockSlurm, work: Path) -> None:
    """As listed in a batch script on real SLURM 22.05 (ci/start-slurm.sh), minus SLURM_CONF (no slurm.conf
    here) and SLURM_TASK_PID (not known before the script starts)."""
    real = {
        "ENVIRONMENT", "SLURMD_NODENAME", "SLURM_CLUSTER_NAME", "SLURM_CPUS_ON_NODE", "SLURM_GTIDS", "SLURM_JOBID",
        "SLURM_JOB_CPUS_PER_NODE", "SLURM_JOB_GID", "SLURM_JOB_ID", "SLURM_JOB_NAME", "SLURM_JOB_NODELIST",
        "SLURM_JOB_NUM_NODES", "SLURM_JOB_PARTITION", "SLURM_JOB_UID", "SLURM_JOB_USER", "SLURM_LOCALID",
        "SLURM_NNODES", "SLURM_NODEID", "SLURM_NODELIST", "SLURM_NODE_ALIASES", "SLURM_PRIO_PROCESS",
        "SLURM_PROCID", "SLURM_SUBMIT_DIR", "SLURM_SUBMIT_HOST", "SLURM_TASKS_PER_NODE", "SLURM_TOPOLOGY_ADDR",
        "SLURM_TOPOLOGY_ADDR_PATTERN", "SLURM_WORKING_CLUSTER",
    }
    job = submit(run, work, SH + 'env | grep -E "^(SLURM|PMI|ENVIRONMENT)" | cut -d= -f1 > names.txt\n')
    cluster.wait(job)
    assert set((work / "names.txt").read_text().split()) == real
