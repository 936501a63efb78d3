"""The mock outside the test process: ``xlib mock-env slurm`` in a shell, ``--xlib-backend=mock-slurm``, the
``mock_slurm`` fixture, and executorlib's own SlurmJobExecutor on the mock."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_executorlib.mocks.slurm import MockSlurm

XLIB = str(Path(sys.executable).with_name("xlib"))


def test_mock_env_in_a_real_shell(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        set -e
        export SLURM_JOB_ID=999  # an outer allocation: mock-env unsets it
        eval "$({XLIB} mock-env slurm --nodes 2 --cpus-per-node 2)"
        echo "root=$XLIB_MOCK_SLURM_ROOT"
        echo "outer=${{SLURM_JOB_ID:-none}}"
        srun -N 2 -n 2 sh -c 'echo node=$SLURMD_NODENAME' | sort
        printf '#!/bin/sh\\necho batch\\n' > job.sh
        id=$(sbatch --parsable job.sh)
        echo "job=$id"
        eval "$({XLIB} mock-env slurm --stop)"
        echo "after=${{XLIB_MOCK_SLURM_ROOT:-unset}}"
    """)
    r = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    root = lines[0].split("=", 1)[1]
    assert lines[1:5] == ["outer=none", "node=n1", "node=n2", "job=2"]
    assert lines[5] == "after=unset"
    assert not os.path.exists(root)  # --stop removed the cluster (and stopped its controller: it held the lock)


def test_mock_env_stop_without_cluster() -> None:
    env = {k: v for k, v in os.environ.items() if k != "XLIB_MOCK_SLURM_ROOT"}
    r = subprocess.run([XLIB, "mock-env", "slurm", "--stop"], env=env, capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout) == (1, "")
    assert "no mock cluster: XLIB_MOCK_SLURM_ROOT is unset" in r.stderr


def test_mock_env_bad_shape() -> None:
    r = subprocess.run([XLIB, "mock-env", "slurm", "--nodes", "0"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "expected a positive integer, got '0'" in r.stderr


def test_executorlib_slurm_job_executor_on_the_mock(cluster: MockSlurm, tmp_path: Path) -> None:
    pytest.importorskip("executorlib")
    code = textwrap.dedent("""
        from executorlib import SlurmJobExecutor
        with SlurmJobExecutor() as ex:
            print(ex.submit(sum, [1, 2]).result())
    """)
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=cluster.environ(), capture_output=True,
                       text=True, timeout=120)
    assert (r.returncode, r.stdout) == (0, "3\n"), r.stderr
    (call,) = cluster.calls("srun")
    assert call.argv[:3] == ["-n", "1", "--cpus-per-task=1"]  # executorlib's srun command line
    assert [j.state for j in cluster.jobs()] == ["COMPLETED"]


def test_backend_session_and_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(textwrap.dedent("""
        import os, shutil, subprocess
        import pytest

        def test_session_cluster_on_path():
            srun = shutil.which("srun")
            assert srun.startswith(os.environ["XLIB_MOCK_SLURM_ROOT"])
            out = subprocess.run(["srun", "sh", "-c", "echo $SLURM_JOB_ID"], capture_output=True, text=True)
            assert out.stdout.strip().isdigit()

        @pytest.mark.mock_slurm(nodes=2, cpus_per_node=3)
        def test_fixture(mock_slurm):
            assert shutil.which("srun") == str(mock_slurm.bin / "srun")
            assert subprocess.run(["sinfo", "-h", "-o", "%D %c"], capture_output=True, text=True).stdout == "2 3\\n"
            mock_slurm.fault_next("exit", 9)
            assert subprocess.run(["srun", "true"]).returncode == 9
            assert [c.command for c in mock_slurm.calls()] == ["sinfo", "srun"]

        def test_after_fixture_session_cluster_again(xlib_backend):
            assert xlib_backend == "mock-slurm"
            root = os.environ["XLIB_MOCK_SLURM_ROOT"]
            assert shutil.which("srun") == os.path.join(root, "bin", "srun") and "/pytest-" not in root
    """))
    result = pytester.runpytest_subprocess("--xlib-backend=mock-slurm", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_executorlib_impl_on_the_mock_backend(pytester: pytest.Pytester) -> None:
    pytest.importorskip("executorlib")
    pytester.makepyfile(textwrap.dedent("""
        def test_sum(executor):
            assert type(executor).__module__.startswith("executorlib")
            assert executor.submit(sum, [1, 2]).result() == 3
    """))
    result = pytester.runpytest_subprocess("--xlib-backend=mock-slurm", "--xlib-impl=executorlib",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_mock_env_controller_exits_when_idle_and_restarts_on_demand(tmp_path: Path) -> None:
    import fcntl
    import threading

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "XLIB_MOCK_SLURM"))}
    env["XLIB_MOCK_SLURM_IDLE"] = "0.5"
    out = subprocess.run([XLIB, "mock-env", "slurm"], env=env, capture_output=True, text=True, timeout=60).stdout
    exports = dict(line[len("export "):].split("=", 1) for line in out.splitlines() if line.startswith("export "))
    root = Path(exports["XLIB_MOCK_SLURM_ROOT"])
    env.update(PATH=exports["PATH"].strip("'"), XLIB_MOCK_SLURM_ROOT=str(root))
    try:
        with open(root / "slurmctld.lock", "w") as lock:  # the controller holds this lock while it runs
            got = threading.Event()
            waiter = threading.Thread(target=lambda: (fcntl.flock(lock, fcntl.LOCK_EX), got.set()), daemon=True)
            waiter.start()
            waiter.join(60)
            assert got.is_set(), "the idle controller did not exit"
            fcntl.flock(lock, fcntl.LOCK_UN)
        (tmp_path / "j.sh").write_text("#!/bin/sh\necho again\n")
        job = subprocess.run(["sbatch", "--parsable", "j.sh"], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=60).stdout.strip()
        srun = subprocess.run(["srun", f"--dependency=afterok:{job}", "echo", "srun"], env=env, capture_output=True,
                              text=True, timeout=60)
        assert srun.stdout == "srun\n"  # a command started a new controller: the job ran
        assert (tmp_path / f"slurm-{job}.out").read_text() == "again\n"
    finally:
        stop = subprocess.run([XLIB, "mock-env", "slurm", "--stop"], env=env, capture_output=True, text=True,
                              timeout=60)
    assert stop.returncode == 0 and not root.exists()
