"""squeue, scontrol, sinfo, sacct, scancel: formats, filters, purging after MinJobAge, error messages."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from slurm_helpers import Run

from pytest_executorlib.mocks.slurm import MockSlurm

SH = "#!/bin/sh\n"
HEADER = "             JOBID PARTITION     NAME     USER ST       TIME  NODES NODELIST(REASON)"


def _held(run: Run, cluster: MockSlurm, work: Path, name: str = "a-rather-long-name") -> int:
    cluster.hold_new_jobs()
    (work / "j.sh").write_text(SH + "true\n")
    return int(run("sbatch", "--parsable", f"--job-name={name}", "j.sh").stdout)


def test_squeue_default_table(run: Run, cluster: MockSlurm, work: Path) -> None:
    assert run("squeue").stdout == HEADER + "\n"
    job = _held(run, cluster, work)
    out = run("squeue").stdout.splitlines()
    user = out[1].split()[3]
    assert out == [HEADER, f"{job:>18} {'debug':>9} {'a-rather':>8} {user[:8]:>8} {'PD':>2} {'0:00':>10} "
                           f"{'1':>6} (JobHeldUser)"]


def test_squeue_pysqa_format(run: Run, cluster: MockSlurm, work: Path) -> None:
    job = _held(run, cluster, work, name="x")
    r = run("squeue", "--format", "%A|%u|%t|%.15j|%Z", "--noheader")
    (line,) = r.stdout.splitlines()
    fields = line.split("|")
    assert fields[0] == str(job) and fields[2] == "PD"
    assert fields[3] == " " * 14 + "x"  # %.15j: right-aligned to 15 characters
    assert fields[4] == str(work)


@pytest.mark.parametrize(("fmt", "expected"), [("%.5i|", "{job:>5}|"), ("%5i|", "{job:<5}|"), ("%.3j", "abc"),
                                               ("%j%%", "abcdef%")])
def test_squeue_width_and_alignment(run: Run, cluster: MockSlurm, work: Path, fmt: str, expected: str) -> None:
    job = _held(run, cluster, work, name="abcdef")
    assert run("squeue", "-h", "-o", fmt).stdout == expected.format(job=job) + "\n"


def test_finished_jobs_leave_squeue_but_stay_in_t_all(run: Run, cluster: MockSlurm, work: Path) -> None:
    (work / "j.sh").write_text(SH + "true\n")
    job = int(run("sbatch", "--parsable", "j.sh").stdout)
    cluster.wait(job)
    assert run("squeue", "-h").stdout == ""
    assert run("squeue", "-h", "-t", "all", "-o", "%i %t").stdout.split() == [str(job), "CD"]
    assert run("squeue", "-h", "-t", "CD", "-o", "%i").stdout.split() == [str(job)]
    young = run("squeue", "-j", str(job))
    assert (young.returncode, young.stdout) == (0, HEADER + "\n")
    assert "JobState=COMPLETED" in run("scontrol", "show", "job", str(job)).stdout


def test_purged_and_unknown_ids(run: Run, tmp_path: Path, work: Path) -> None:
    with MockSlurm(tmp_path / "c", min_job_age=0) as cluster:
        env = cluster.environ()
        (work / "j.sh").write_text(SH + "true\n")
        job = int(subprocess.run(["sbatch", "--parsable", "j.sh"], cwd=work, env=env, capture_output=True,
                                 text=True, timeout=60).stdout)
        cluster.wait(job)
        for argv in (["squeue", "-j", str(job)], ["scontrol", "show", "job", str(job)], ["squeue", "-j", "424242"]):
            r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
            assert (r.returncode, r.stdout, r.stderr) == (1, "", "slurm_load_jobs error: Invalid job id specified\n")
        assert subprocess.run(["squeue", "-h", "-t", "all"], env=env, capture_output=True, text=True,
                              timeout=60).stdout == ""


def test_scontrol_show_job_oneliner(run: Run, cluster: MockSlurm, work: Path) -> None:
    job = _held(run, cluster, work, name="one")
    out = run("scontrol", "show", "job", "-o", str(job)).stdout
    assert out.count("\n") == 1 and out.endswith(" Power= \n")  # as real 22.05 ends it
    fields = dict(item.split("=", 1) for item in out.split() if "=" in item)
    assert fields["JobId"] == str(job) and fields["JobName"] == "one"
    assert (fields["JobState"], fields["Reason"], fields["ExitCode"]) == ("PENDING", "JobHeldUser", "0:0")
    assert (fields["NumNodes"], fields["NumCPUs"], fields["NumTasks"], fields["CPUs/Task"]) == ("1", "1", "1", "1")
    assert fields["WorkDir"] == str(work) and fields["StdOut"] == str(work / f"slurm-{job}.out")
    assert fields["TimeLimit"] == "UNLIMITED"


def test_scancel_errors_and_silence(run: Run, cluster: MockSlurm) -> None:
    assert (run("scancel", "99999").returncode, run("scancel", "99999").stderr) == (0, "")
    r = run("scancel", "abc")
    assert (r.returncode, r.stderr) == (1, "scancel: error: Invalid job id abc\n")


def test_sinfo(tmp_path: Path) -> None:
    with MockSlurm(tmp_path / "c", nodes=3, cpus_per_node=2,
                   partitions={"small": {"nodes": [0]}, "big": {"nodes": [1, 2], "max_time": 60}}) as cluster:
        r = subprocess.run(["sinfo"], env=cluster.environ(), capture_output=True, text=True, timeout=60)
        assert r.stdout.splitlines() == [
            "PARTITION AVAIL  TIMELIMIT  NODES  STATE NODELIST",
            "small*       up   infinite      1   idle n1",
            "big          up    1:00:00      2   idle n[2-3]",
        ]


def test_sacct_disabled_by_default_and_configurable(run: Run, tmp_path: Path, work: Path) -> None:
    r = run("sacct")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "Slurm accounting storage is disabled\n")
    with MockSlurm(tmp_path / "acct", accounting=True) as cluster:
        env = cluster.environ()
        (work / "j.sh").write_text(SH + "exit 2\n")
        job = int(subprocess.run(["sbatch", "--parsable", "j.sh"], cwd=work, env=env, capture_output=True,
                                 text=True, timeout=60).stdout)
        cluster.wait(job)
        r = subprocess.run(["sacct", "-j", str(job), "-P", "-n", "-o", "JobID,State,ExitCode"], env=env,
                           capture_output=True, text=True, timeout=60)
        assert r.stdout == f"{job}|FAILED|2:0\n"
