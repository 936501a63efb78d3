"""50 concurrent commands never lose a job; no process outlives the cluster."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from slurm_helpers import Run

from pytest_executorlib.mocks.slurm import MockSlurm

SH = "#!/bin/sh\n"


def test_fifty_concurrent_commands(run: Run, cluster: MockSlurm, work: Path) -> None:
    # Each batch job runs two more commands from inside the job (a step and a query), concurrently with the rest.
    (work / "j.sh").write_text(SH + "srun -n1 true\nsqueue -h > /dev/null\n")
    argvs = [["sbatch", "--parsable", "j.sh"] if i % 3 == 0 else ["srun", "-n1", "true"] if i % 3 == 1
             else ["squeue", "-h", "-t", "all"] for i in range(50)]
    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(lambda argv: run(*argv, timeout=120), argvs))
    assert [r.returncode for r in results] == [0] * 50, [r.stderr for r in results if r.returncode]
    sbatch_ids = [int(r.stdout) for r, argv in zip(results, argvs) if argv[0] == "sbatch"]
    for job_id in sbatch_ids:
        assert cluster.wait(job_id, timeout=120).state == "COMPLETED"
    jobs = cluster.jobs()
    assert len(jobs) == sum(1 for a in argvs if a[0] in ("sbatch", "srun"))  # steps are no new jobs
    assert [j.id for j in jobs] == list(range(jobs[0].id, jobs[0].id + len(jobs)))  # increasing, no gap, no reuse
    assert set(sbatch_ids) <= {j.id for j in jobs}
    assert len(cluster.calls()) == 50 + 2 * len(sbatch_ids)
    assert {c.job for c in cluster.calls() if c.job} == {str(j) for j in sbatch_ids}
    check = subprocess.run([sys.executable, "-c", "import sqlite3, sys; "
                            "print(sqlite3.connect(sys.argv[1]).execute('PRAGMA integrity_check').fetchone()[0])",
                            str(cluster.root / "slurm.db")], capture_output=True, text=True, timeout=60)
    assert check.stdout == "ok\n"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:  # a zombie is not alive
        return fh.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_no_process_outlives_the_cluster(tmp_path: Path) -> None:
    work = tmp_path / "w"
    work.mkdir()
    with MockSlurm(tmp_path / "c") as cluster:
        env = cluster.environ()
        os.mkfifo(work / "up")
        (work / "j.sh").write_text(SH + "echo $$ > up\nsleep 300\n")
        subprocess.run(["sbatch", "j.sh"], cwd=work, env=env, check=True, capture_output=True, timeout=60)
        batch_pid = int((work / "up").read_text())
        srun = subprocess.Popen(["srun", "sh", "-c", "echo $$; exec sleep 300"], env=env, stdout=subprocess.PIPE,
                                text=True)
        assert srun.stdout is not None
        task_pid = int(srun.stdout.readline())
        waiting = subprocess.Popen(["srun", "-n", "9", "true"], env=env, stderr=subprocess.PIPE, text=True)
        assert waiting.stderr is not None
        assert waiting.stderr.readline() == "srun: Requested partition configuration not available now\n"
        controller = cluster._controller
        assert controller is not None
    assert srun.wait(timeout=30) in (137, 143)  # its tasks were killed (SIGTERM to the step, SIGKILL from srun)
    assert waiting.wait(timeout=30) == 1  # a waiting srun ends too
    assert controller.poll() is not None
    assert not _alive(batch_pid) and not _alive(task_pid)
    assert [j.state for j in cluster.jobs()] == ["CANCELLED", "CANCELLED", "CANCELLED"]
    r = subprocess.run(["squeue"], env=env, capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stderr) == (1, "squeue: error: Unable to contact slurm controller (connect failure)\n")


def test_killed_owner_stops_the_cluster(tmp_path: Path) -> None:
    owner = textwrap.dedent(f"""
        import subprocess, sys, os
        sys.path.insert(0, {str(Path(__file__).parents[3])!r})
        from pytest_executorlib.mocks.slurm import MockSlurm
        cluster = MockSlurm({str(tmp_path / 'c')!r}).__enter__()
        task = subprocess.Popen(["srun", "sh", "-c", "echo $$; exec sleep 300"], env=cluster.environ(),
                                stdout=subprocess.PIPE, text=True, start_new_session=True)
        print(cluster._controller.pid, task.pid, task.stdout.readline().strip(), flush=True)
        os.kill(os.getpid(), 9)
    """)
    proc = subprocess.run([sys.executable, "-c", owner], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    controller_pid, srun_pid, task_pid = (int(x) for x in proc.stdout.split())
    # The controller watches its owner through a pidfd: it stops every job, then exits.
    import fcntl
    import select

    for pid in (controller_pid, srun_pid, task_pid):
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            assert select.select([fd], [], [], 30)[0], f"process {pid} still alive 30 s after its owner died"
        finally:
            os.close(fd)
    # ... and marks the cluster stopped, so the ending srun did not start another controller: the lock is free.
    with open(tmp_path / "c" / "slurmctld.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
