"""Fidelity of the mock SLURM, measured: each scenario runs unchanged on the mock and on a real SLURM 22.05.

The expected values are what real SLURM 22.05 does (they were written and checked against the real cluster
first; see docs/slurm.md "Measured fidelity" for which scenarios the mock passes).  Output is compared after
:meth:`Cluster.norm` replaced job ids, the node name, the partition and ISO times by placeholders; nothing else
is relaxed, except lines real SLURM itself prints only sometimes (listed as optional in each scenario).

One file on purpose (~570 lines): it is the fidelity table, one test per row, helpers in slurmclusters.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from slurmclusters import Cluster, LineReader, check_lines

PY = sys.executable
SH = "#!/bin/sh\n"


def job_of(stdout: str) -> int:
    """The job id a task printed as its first output line."""
    return int(stdout.split()[0])


# --- srun: exit codes, stderr, signals ----------------------------------------------------------------------


def test_srun_exit_code_is_the_task_exit_code_with_an_error_line(cluster: Cluster) -> None:
    done = cluster.run("srun", "-n1", "sh", "-c", "echo $SLURM_JOB_ID; exit 3")
    assert done.rc == 3, str(done)
    check_lines(cluster.lines(done.err), ["srun: error: <node>: task 0: Exited with exit code 3"])


def test_srun_missing_program_exits_2_with_slurmstepd_execve_error(cluster: Cluster) -> None:
    done = cluster.run("srun", "-n1", "xlib-no-such-program")
    assert (done.rc, done.out) == (2, ""), str(done)
    check_lines(
        cluster.lines(done.err),
        [
            "srun: error: <node>: task 0: Exited with exit code 2",
            "slurmstepd-<node>: error: execve(): xlib-no-such-program: No such file or directory",
        ],
    )


@pytest.mark.parametrize(("signal", "rc", "word"), [("KILL", 137, "Killed"), ("TERM", 143, "Terminated")])
def test_srun_task_killed_by_a_signal_gives_128_plus_n(cluster: Cluster, signal: str, rc: int, word: str) -> None:
    done = cluster.run("srun", "-n1", "sh", "-c", f"kill -{signal} $$")
    assert (done.rc, done.out) == (rc, ""), str(done)
    check_lines(
        cluster.lines(re.sub(r"StepId=\d+\.0", "StepId=<J>.0", done.err)),
        [f"srun: error: <node>: task 0: {word}", "srun: Force Terminated StepId=<J>.0"],
    )


def test_srun_failing_rank_lets_the_others_finish(cluster: Cluster) -> None:
    done = cluster.run("srun", "-n2", "sh", "-c", 'if [ "$SLURM_PROCID" = 1 ]; then exit 5; fi; sleep 0.5; echo done')
    assert (done.rc, done.out) == (5, "done\n"), str(done)
    check_lines(cluster.lines(done.err), ["srun: error: <node>: task 1: Exited with exit code 5"])


@pytest.mark.parametrize(
    ("option", "rc", "stderr"),
    [
        (
            "--partition=xlib-nopart",
            1,
            [
                "srun: error: invalid partition specified: xlib-nopart",
                "srun: error: Unable to allocate resources: Invalid partition name specified",
            ],
        ),
        ("--time=abc", 255, ["srun: error: Invalid --time specification"]),
        ("--gres=gpu:1", 1, ["srun: error: Invalid generic resource (gres) specification"]),
        ("--gpus-per-task=1", 1, ["srun: error: Invalid generic resource (gres) specification"]),
        (
            "--mem=999999",
            1,
            [
                "srun: error: Memory specification can not be satisfied",
                "srun: error: Unable to allocate resources: Requested node configuration is not available",
            ],
        ),
    ],
    ids=["partition", "time", "gres", "gpus-per-task", "mem"],
)
def test_srun_rejects_bad_options_at_once(cluster: Cluster, option: str, rc: int, stderr: list[str]) -> None:
    done = cluster.run("srun", "-n1", option, "true", timeout=30)
    assert (done.rc, done.out) == (rc, ""), str(done)
    check_lines(cluster.lines(done.err), stderr)


def test_srun_mpi_plugin_that_is_not_there(cluster: Cluster) -> None:
    done = cluster.run("srun", "-n1", "--mpi=pmix", "true", timeout=30)
    assert (done.rc, done.out) == (1, ""), str(done)
    check_lines(
        cluster.lines(done.err),
        ["srun: error: Invalid MPI type 'pmix', --mpi=list for acceptable types"],
        [  # why the plugin failed to load depends on the installation (here: the plugin exists, libpmix does not;
            # a SLURM built without the plugin says it cannot find it)
            "srun: error: Couldn't find the specified plugin name for mpi/pmix looking at all files",
            "srun: error: cannot find mpi plugin for mpi/pmix",
            "srun: error:  mpi/pmix_v4: init: (null) [0]: mpi_pmix.c:195: pmi/pmix: can not load PMIx library",
            "srun: error: Couldn't load specified plugin name for mpi/pmix: Plugin init() callback failed",
            "srun: error: MPI: Cannot create context for mpi/pmix",
            "srun: error: MPI: Unable to load any plugin",
        ],
    )


def test_srun_kill_on_bad_exit_cancels_the_step(cluster: Cluster) -> None:
    done = cluster.run("srun", "-n2", "-K", "sh", "-c", 'if [ "$SLURM_PROCID" = 1 ]; then exit 3; fi; sleep 30')
    assert (done.rc, done.out) == (143, ""), str(done)
    check_lines(
        cluster.lines(re.sub(r"(StepId=|STEP )\d+\.0", r"\1<J>.0", done.err)),
        [
            "srun: error: <node>: task 1: Exited with exit code 3",
            "slurmstepd-<node>: error: *** STEP <J>.0 ON <node> CANCELLED AT <time> ***",
            "srun: error: <node>: task 0: Terminated",
        ],
        ["srun: launch/slurm: _step_signal: Terminating StepId=<J>.0", "srun: Force Terminated StepId=<J>.0"],
    )


@pytest.mark.parametrize("size", [["-n5"], ["-c", "8"], ["-N", "2", "-n", "2"]], ids=["n5", "c8", "N2"])
def test_srun_larger_than_the_node_waits_for_resources_forever(cluster: Cluster, size: list[str]) -> None:
    proc = cluster.start("srun", *size, "true")
    assert proc.stderr is not None
    err = LineReader(proc.stderr)
    seen = [re.sub(r"job \d+", "job <J>", err.next(timeout=20)) for _ in range(2)]
    assert seen == ["srun: Requested partition configuration not available now", "srun: job <J> queued and waiting for resources"]
    time.sleep(1.0)  # still waiting a second later: the request is never granted, nor rejected
    assert proc.poll() is None
    # the fixture's clean-up stops this srun and cancels its pending job


# --- srun: task environment ----------------------------------------------------------------------------------

# One file per rank: two ranks' long lines on srun's stdout may interleave.
ENV_DUMP = (
    "import json, os; env = {k: v for k, v in os.environ.items() if k.startswith(('SLURM', 'PMI'))}; "
    "open('env.%s.json' % os.environ['SLURM_PROCID'], 'w').write(json.dumps(env))"
)


def rank_envs(cluster: Cluster, *options: str) -> list[dict[str, str]]:
    done = cluster.run("srun", *options, PY, "-c", ENV_DUMP)
    assert done.rc == 0 and done.out == "" and not cluster.lines(done.err), str(done)
    files = sorted(cluster.workdir.glob("env.*.json"))
    return sorted((json.loads(f.read_text()) for f in files), key=lambda e: int(e["SLURM_PROCID"]))


def test_srun_task_environment(cluster: Cluster) -> None:
    envs = rank_envs(cluster, "-n2")
    job = envs[0]["SLURM_JOB_ID"]
    assert job.isdigit()
    for rank, env in enumerate(envs):
        expected = {
            "SLURM_JOB_ID": job,
            "SLURM_JOBID": job,
            "SLURM_STEP_ID": "0",
            "SLURM_STEPID": "0",
            "SLURM_PROCID": str(rank),
            "SLURM_LOCALID": str(rank),
            "SLURM_NODEID": "0",
            "SLURM_NTASKS": "2",
            "SLURM_NPROCS": "2",
            "SLURM_STEP_NUM_TASKS": "2",
            "SLURM_GTIDS": "0,1",
            "SLURM_TASKS_PER_NODE": "2",
            "SLURM_JOB_NAME": Path(PY).name,
            "SLURM_SUBMIT_DIR": str(cluster.workdir),
            "SLURM_JOB_NODELIST": cluster.node,
            "SLURMD_NODENAME": cluster.node,
            "SLURM_JOB_NUM_NODES": "1",
            "SLURM_JOB_PARTITION": cluster.partition,
            "SLURM_CPUS_ON_NODE": "2",
            "SLURM_MPI_TYPE": "pmi2",
            "PMI_RANK": str(rank),
            "PMI_SIZE": "2",
            "PMI_JOBID": f"{job}.0",
        }
        assert {k: env.get(k) for k in expected} == expected
        assert "SLURM_CPUS_PER_TASK" not in env  # only with -c / --cpus-per-task


def test_srun_cpus_per_task_only_with_c(cluster: Cluster) -> None:
    (env,) = rank_envs(cluster, "-n1", "-c", "2")
    assert (env.get("SLURM_CPUS_PER_TASK"), env.get("SLURM_NTASKS"), env.get("SLURM_CPUS_ON_NODE")) == ("2", "1", "2")


def test_srun_exports_the_submitter_environment(cluster: Cluster) -> None:
    done = cluster.run("srun", "-n1", "sh", "-c", 'echo "$XLIB_EXPORTED|$PATH"', env={"XLIB_EXPORTED": "yes"})
    assert done.rc == 0, str(done)
    assert done.out == f"yes|{cluster.env['PATH']}\n"


def test_srun_mpi_pmi2_gives_one_comm_world(cluster: Cluster) -> None:
    code = "from mpi4py import MPI; c = MPI.COMM_WORLD; print(c.Get_rank(), c.Get_size(), c.allreduce(c.Get_rank() + 1))"
    done = cluster.run("srun", "-n", "2", "--mpi=pmi2", PY, "-c", code, timeout=60)
    assert done.rc == 0 and not cluster.lines(done.err), str(done)
    assert sorted(done.out.splitlines()) == ["0 2 3", "1 2 3"]


# --- job ids, sbatch output -----------------------------------------------------------------------------------


def test_job_ids_increase_and_are_shared_by_srun_and_sbatch(cluster: Cluster) -> None:
    first = cluster.sbatch(SH + "true\n")
    step = cluster.run("srun", "-n1", "sh", "-c", "echo $SLURM_JOB_ID")
    plain = cluster.run("sbatch", str(cluster.workdir / "job.sh"))
    assert step.rc == 0 and plain.rc == 0, f"{step}\n{plain}"
    assert re.fullmatch(r"Submitted batch job \d+\n", plain.out) and plain.err == "", str(plain)
    third = int(plain.out.split()[-1])
    assert first < job_of(step.out) < third


@pytest.mark.parametrize(
    ("argv", "script", "rc", "stderr"),
    [
        (["--xlib-bad"], SH + "true\n", 255, ["sbatch: unrecognized option '--xlib-bad'", 'Try "sbatch --help" for more information']),
        (
            [],
            "echo no interpreter line\n",
            1,
            [
                "sbatch: error: This does not look like a batch script.  The first",
                "sbatch: error: line must start with #! followed by the path to an interpreter.",
                "sbatch: error: For instance: #!/bin/sh",
            ],
        ),
        (
            [],
            SH + "#SBATCH --partition=xlib-nopart\ntrue\n",
            1,
            [
                "sbatch: error: invalid partition specified: xlib-nopart",
                "sbatch: error: Batch job submission failed: Invalid partition name specified",
            ],
        ),
    ],
    ids=["unknown-option", "no-shebang", "bad-partition"],
)
def test_sbatch_rejections(cluster: Cluster, argv: list[str], script: str, rc: int, stderr: list[str]) -> None:
    (cluster.workdir / "bad.sh").write_text(script)
    done = cluster.run("sbatch", *argv, "bad.sh")
    assert (done.rc, done.out) == (rc, ""), str(done)
    assert cluster.lines(done.err) == stderr


# --- #SBATCH directives and the batch environment --------------------------------------------------------------

DIRECTIVES = SH + """#SBATCH --chdir=wd
#SBATCH --output=out/%j.log
#SBATCH --ntasks=2
#SBATCH --time=5
#SBATCH --partition={partition}
echo "pwd=$(pwd) ntasks=$SLURM_NTASKS job=$SLURM_JOB_ID submit=$SLURM_SUBMIT_DIR step=${{SLURM_STEP_ID-unset}} cpt=${{SLURM_CPUS_PER_TASK-unset}}"
#SBATCH --job-name=after-the-first-command-is-ignored
srun sh -c 'echo "step $SLURM_STEP_ID of $SLURM_JOB_ID rank $SLURM_PROCID"' | sort
srun -n1 sh -c 'echo "step $SLURM_STEP_ID"'
"""


def test_sbatch_directives_and_batch_environment(cluster: Cluster) -> None:
    (cluster.workdir / "wd" / "out").mkdir(parents=True)
    job = cluster.sbatch(DIRECTIVES.format(partition=cluster.partition), name="directives.sh")
    fields = cluster.wait_state(job, "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT")
    log = cluster.workdir / "wd" / "out" / f"{job}.log"
    wd = cluster.workdir / "wd"
    assert log.read_text() == (
        f"pwd={wd} ntasks=2 job={job} submit={cluster.workdir} step=unset cpt=unset\n"
        f"step 0 of {job} rank 0\nstep 0 of {job} rank 1\nstep 1\n"
    )
    expected = {
        "JobState": "COMPLETED",
        "ExitCode": "0:0",
        "JobName": "directives.sh",
        "WorkDir": str(wd),
        "StdOut": str(log),
        "NumTasks": "2",
        "TimeLimit": "00:05:00",
        "Partition": cluster.partition,
        "Command": str(cluster.workdir / "directives.sh"),
    }
    assert {k: fields.get(k) for k in expected} == expected


STEPS = SH + """#SBATCH --ntasks=1
#SBATCH --output=steps.out
srun -n 2 true
echo "oversized rc=$?"
srun -N 2 -n 1 true
echo "two nodes rc=$?"
srun -D /nonexistent-xlib-dir pwd
echo "missing dir rc=$?"
"""


def test_steps_inside_a_batch_allocation(cluster: Cluster) -> None:
    job = cluster.sbatch(STEPS)
    cluster.wait_state(job, "COMPLETED")
    check_lines(
        cluster.lines(re.sub(rf"for job {job}:", "for job <J>:", (cluster.workdir / "steps.out").read_text())),
        [
            "srun: error: Unable to create step for job <J>: More processors requested than permitted",
            "oversized rc=1",
            "srun: Warning: can't run 1 processes on 2 nodes, setting nnodes to 1",
            "two nodes rc=0",
            "slurmstepd-<node>: error: couldn't chdir to `/nonexistent-xlib-dir': No such file or directory: going to /tmp instead",
            "/tmp",
            "missing dir rc=0",
        ],
    )


def test_sbatch_output_file_is_created_even_if_empty(cluster: Cluster) -> None:
    job = cluster.sbatch(SH + "true\n", "--output=silent.out")
    cluster.wait_state(job, "COMPLETED")
    assert (cluster.workdir / "silent.out").read_text() == ""
    assert sorted(p.name for p in cluster.workdir.iterdir()) == ["job.sh", "silent.out"]  # nothing else


def test_scontrol_show_job_of_a_failed_job(cluster: Cluster) -> None:
    job = cluster.sbatch(SH + "exit 7\n", "--job-name=failing")
    fields = cluster.wait_state(job, "FAILED")
    expected = {
        "JobId": str(job),
        "JobName": "failing",
        "JobState": "FAILED",
        "Reason": "NonZeroExitCode",
        "Dependency": "(null)",
        "ExitCode": "7:0",
        "NumNodes": "1",
        "NumCPUs": "1",
        "NumTasks": "1",
        "CPUs/Task": "1",
        "WorkDir": str(cluster.workdir),
        "StdOut": str(cluster.workdir / f"slurm-{job}.out"),
    }
    assert {k: fields.get(k) for k in expected} == expected
    multi = cluster.run("scontrol", "show", "job", str(job))
    assert multi.rc == 0 and multi.out.startswith(f"JobId={job} JobName=failing\n"), str(multi)
    one = cluster.run("scontrol", "-o", "show", "job", str(job))
    assert one.out.count("\n") == 1 and one.out.startswith(f"JobId={job} JobName=failing "), str(one)


# --- squeue, sinfo, sacct formats ----------------------------------------------------------------------------

SQUEUE_HEADER = "             JOBID PARTITION     NAME     USER ST       TIME  NODES NODELIST(REASON)"
SLEEPER = SH + "#SBATCH --job-name=sleeper\nexec sleep 60\n"  # exec: see the time-limit scenario


def squeue_line(cluster: Cluster, listing: str, job: int) -> str:
    (line,) = [line for line in listing.splitlines() if line.split() and line.split()[0] == str(job)]
    return line


def test_squeue_formats_of_a_running_and_a_pending_job(cluster: Cluster) -> None:
    running = cluster.sbatch(SLEEPER)
    cluster.wait_state(running, "RUNNING")
    pending = cluster.sbatch(SLEEPER, f"--dependency=afterok:{running}")
    default = cluster.run("squeue")
    assert default.rc == 0 and default.err == "", str(default)
    assert default.out.splitlines()[0] == SQUEUE_HEADER
    # %.18i %.9P %.8j %.8u %.2t %.10M %.6D %R
    line = squeue_line(cluster, default.out, running)
    elapsed = line.split()[5]
    assert re.fullmatch(r"\d+:\d\d", elapsed)
    part, user = cluster.partition[:9], cluster.user[:8]
    assert line == f"{running:>18} {part:>9} {'sleeper':>8} {user:>8} {'R':>2} {elapsed:>10} {1:>6} {cluster.node}"
    waiting = squeue_line(cluster, default.out, pending)
    assert waiting == f"{pending:>18} {part:>9} {'sleeper':>8} {user:>8} {'PD':>2} {'0:00':>10} {1:>6} (Dependency)"

    pysqa = cluster.run("squeue", "--format", "%A|%u|%t|%.15j|%Z", "--noheader")
    ours = sorted(line for line in pysqa.out.splitlines() if line.startswith((f"{running}|", f"{pending}|")))
    assert ours == [
        f"{running}|{cluster.user}|R|{'sleeper':>15}|{cluster.workdir}",
        f"{pending}|{cluster.user}|PD|{'sleeper':>15}|{cluster.workdir}",
    ]


def test_finished_jobs_leave_squeue_but_stay_in_squeue_t_all(cluster: Cluster) -> None:
    done_job = cluster.sbatch(SH + "true\n", "--job-name=quick")
    failed_job = cluster.sbatch(SH + "exit 1\n", "--job-name=failing")
    cluster.wait_state(done_job, "COMPLETED")
    cluster.wait_state(failed_job, "FAILED")
    active = cluster.run("squeue", "--noheader", "--format=%A")
    assert {str(done_job), str(failed_job)}.isdisjoint(active.out.split()), str(active)
    every = cluster.run("squeue", "-t", "all")
    assert every.out.splitlines()[0] == SQUEUE_HEADER
    quick, failing = (squeue_line(cluster, every.out, j).split()[1:] for j in (done_job, failed_job))
    assert re.fullmatch(r"\d+:\d\d", quick[4]) and re.fullmatch(r"\d+:\d\d", failing[4])  # elapsed: 0:00 or 0:01
    assert quick[:4] + quick[5:] == [cluster.partition, "quick", cluster.user, "CD", "1", cluster.node], str(every)
    assert failing[:4] + failing[5:] == [cluster.partition, "failing", cluster.user, "F", "1", "(NonZeroExitCode)"], str(every)
    young = cluster.run("squeue", "-j", str(done_job))
    assert (young.rc, young.out, young.err) == (0, SQUEUE_HEADER + "\n", ""), str(young)


def test_squeue_unknown_job_id(cluster: Cluster) -> None:
    done = cluster.run("squeue", "-j", "987654321")
    assert (done.rc, done.out, done.err) == (1, "", "slurm_load_jobs error: Invalid job id specified\n"), str(done)


def test_sinfo_default_output(cluster: Cluster) -> None:
    done = cluster.run("sinfo")
    assert done.rc == 0 and done.err == "", str(done)
    header, *rows = done.out.splitlines()
    assert header == "PARTITION AVAIL  TIMELIMIT  NODES  STATE NODELIST"
    (row,) = rows
    assert row.split()[:4] == [cluster.partition + "*", "up", "infinite", "1"]
    assert row.split()[4] in {"idle", "mix", "alloc"} and row.split()[5] == cluster.node  # busy when others run jobs


def test_sacct_without_accounting_storage(cluster: Cluster) -> None:
    done = cluster.run("sacct")
    assert (done.rc, done.out, done.err) == (1, "", "Slurm accounting storage is disabled\n"), str(done)


# --- dependencies ----------------------------------------------------------------------------------------------


def test_dependency_comma_rule_afterok_a_comma_b_means_afterany_b(cluster: Cluster) -> None:
    ok = cluster.sbatch(SH + "sleep 1\n", name="ok.sh")
    bad = cluster.sbatch(SH + "exit 7\n", name="bad.sh")
    jobs = {"OK": ok, "BAD": bad}
    runs = cluster.sbatch(SH + "echo ran\n", f"--dependency=afterok:{ok},{bad}", "--output=runs.out", name="runs.sh")
    never = cluster.sbatch(SH + "echo ran\n", f"--dependency=afterok:{bad},{ok}", "--output=never.out", name="never.sh")
    deps = {j: cluster.show_job(j).get("Dependency", "") for j in (runs, never)}
    assert cluster.norm(deps[runs], jobs) in {"afterok:<OK>(unfulfilled),afterany:<BAD>(unfulfilled)", "afterok:<OK>(unfulfilled)"}
    assert cluster.norm(deps[never], jobs).startswith("afterok:<BAD>(")
    cluster.wait_state(runs, "COMPLETED")
    assert (cluster.workdir / "runs.out").read_text() == "ran\n"
    fields = cluster.wait_job(never, lambda f: f.get("Reason") == "DependencyNeverSatisfied", what="never satisfiable")
    assert fields["JobState"] == "PENDING"
    assert cluster.norm(fields["Dependency"], jobs) == "afterok:<BAD>(failed),afterany:<OK>(unfulfilled)" or cluster.norm(
        fields["Dependency"], jobs
    ) == "afterok:<BAD>(failed)"
    assert not (cluster.workdir / "never.out").exists()


# --- scancel ---------------------------------------------------------------------------------------------------


def test_scancel_a_running_srun(cluster: Cluster) -> None:
    proc = cluster.start("srun", "-n1", "sh", "-c", "echo $SLURM_JOB_ID; exec sleep 60")
    assert proc.stdout is not None
    job = int(LineReader(proc.stdout).next(timeout=30))
    cluster.wait_state(job, "RUNNING")
    cancel = cluster.run("scancel", str(job))
    assert (cancel.rc, cancel.out, cancel.err) == (0, "", ""), str(cancel)
    assert proc.wait(timeout=60) == 143  # stdout is read by the LineReader; stderr holds a few lines only
    err = proc.stderr.read() if proc.stderr else ""
    check_lines(
        cluster.lines(err, {"J": job}),
        ["slurmstepd-<node>: error: *** STEP <J>.0 ON <node> CANCELLED AT <time> ***", "srun: error: <node>: task 0: Terminated"],
        [
            "srun: Job step aborted: Waiting up to 32 seconds for job step to finish.",
            "srun: Job step aborted",
            "srun: Force Terminated StepId=<J>.0",
        ],
    )
    fields = cluster.wait_state(job, "CANCELLED")
    assert fields["ExitCode"] == "0:15"


def test_scancel_a_batch_job(cluster: Cluster) -> None:
    job = cluster.sbatch(SLEEPER, "--output=sleeper.out")
    cluster.wait_state(job, "RUNNING")
    assert cluster.run("scancel", str(job)).rc == 0
    fields = cluster.wait_state(job, "CANCELLED")
    assert fields["ExitCode"] == "0:15"
    out = cluster.lines((cluster.workdir / "sleeper.out").read_text(), {"J": job})
    assert out == ["slurmstepd-<node>: error: *** JOB <J> ON <node> CANCELLED AT <time> ***"]
    every = cluster.run("squeue", "-t", "all", "--noheader", "--format=%A %t")
    assert f"{job} CA" in every.out.splitlines()


def test_scancel_unknown_finished_and_bad_ids(cluster: Cluster) -> None:
    finished = cluster.sbatch(SH + "true\n")
    cluster.wait_state(finished, "COMPLETED")
    for job in ("987654321", str(finished)):
        silent = cluster.run("scancel", job)
        assert (silent.rc, silent.out, silent.err) == (0, "", ""), str(silent)
    bad = cluster.run("scancel", "abc")
    assert (bad.rc, bad.out, bad.err) == (1, "", "scancel: error: Invalid job id abc\n"), str(bad)


# --- time limits (real: a 1-minute limit ends after ~80-90 s) ---------------------------------------------------


@pytest.mark.slurm_slow
@pytest.mark.timeout(400)
def test_time_limit_ends_srun_and_batch_job_as_timeout(cluster: Cluster) -> None:
    # exec: with a shell waiting for sleep, real SLURM records ExitCode 0:15 or 143:0 (which of the two dies of
    # SIGTERM first); the signal itself is what the scenario compares
    job = cluster.sbatch(SH + "#SBATCH --time=1\n#SBATCH --output=limit.out\necho started\nexec sleep 300\n")
    proc = cluster.start("srun", "--time=1", "sh", "-c", "echo $SLURM_JOB_ID; exec sleep 300")
    assert proc.stdout is not None
    step_job = int(LineReader(proc.stdout).next(timeout=30))
    assert proc.wait(timeout=200) == 143
    err = proc.stderr.read() if proc.stderr else ""
    # real srun prints "srun: Job step aborted: Waiting up to 32 seconds for job step to finish." or, seen once
    # in ~5 runs, only "srun: Job step aborted": either is accepted
    aborted = re.sub(r"(?m)^srun: Job step aborted: Waiting up to 32 seconds for job step to finish\.$", "srun: Job step aborted", err)
    check_lines(
        cluster.lines(aborted, {"J": step_job}),
        [
            "srun: Job step aborted",
            "slurmstepd-<node>: error: *** STEP <J>.0 ON <node> CANCELLED AT <time> DUE TO TIME LIMIT ***",
        ],
        ["srun: error: <node>: task 0: Terminated", "srun: Force Terminated StepId=<J>.0"],
    )
    for timed_out in (step_job, job):
        fields = cluster.wait_state(timed_out, "TIMEOUT", timeout=120)
        assert (fields["Reason"], fields["ExitCode"], fields["TimeLimit"]) == ("TimeLimit", "0:15", "00:01:00"), fields
    assert cluster.lines((cluster.workdir / "limit.out").read_text(), {"J": job}) == [
        "started",
        "slurmstepd-<node>: error: *** JOB <J> ON <node> CANCELLED AT <time> DUE TO TIME LIMIT ***",
    ]


# --- pysqa's SLURM adapter (what SlurmClusterExecutor uses) on top of the commands -----------------------------


def test_pysqa_submit_status_cancel(cluster: Cluster) -> None:
    pysqa = pytest.importorskip("pysqa", reason="pysqa is in the 'cluster' extra")

    def execute(
        commands: str | list[str],
        working_directory: str | None = None,
        split_output: bool = True,
        shell: bool = False,
        error_filename: str = "pysqa.err",
    ) -> str | list[str]:
        """pysqa's ``execute_command`` contract (stderr into stdout, CalledProcessError), in the cluster's env."""
        out = subprocess.check_output(
            commands, cwd=working_directory, env=cluster.env, stderr=subprocess.STDOUT, text=True, shell=isinstance(commands, str)
        )
        return out.split("\n") if split_output else out

    adapter = pysqa.QueueAdapter(queue_type="slurm", execute_command=execute)
    wd = cluster.workdir / "pysqa"
    with pytest.raises(subprocess.CalledProcessError) as rejected:  # pysqa's template always has --partition
        adapter.submit_job(working_directory=str(wd), job_name="nopart", cores=1, run_time_max=120, command="true")
    assert cluster.lines(rejected.value.output) == [
        "sbatch: error: invalid partition specified: (null)",
        "sbatch: error: Batch job submission failed: Invalid partition name specified",
    ]
    job = adapter.submit_job(
        working_directory=str(wd), job_name="pysqa-job", cores=2, run_time_max=120, command="sleep 60", partition=cluster.partition
    )
    assert isinstance(job, int)
    cluster.wait_state(job, "RUNNING")
    assert adapter.get_status_of_job(process_id=job) == "running"
    fields = cluster.show_job(job)
    assert (fields["JobName"], fields["NumTasks"], fields["TimeLimit"], fields["WorkDir"]) == ("pysqa-job", "2", "00:02:00", str(wd))
    adapter.delete_job(process_id=job)
    cluster.wait_state(job, "CANCELLED")
    cluster.wait_job(job, lambda f: adapter.get_status_of_job(process_id=job) is None, what="gone from pysqa's squeue")
