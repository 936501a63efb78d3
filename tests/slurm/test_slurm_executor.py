"""``SlurmJobExecutor`` against a SLURM cluster: every test runs on the mock SLURM and on a real one (``slurm``,
the conformance tests' ``cluster`` with its environment applied to this process).

What a user relies on: calls run in srun jobs (one per call, or one per block worker) with the resources they
asked for; failures of srun or of SLURM reach the call's future as a clear error quoting srun, never a hang;
block workers are restarted; nothing (process, job) outlives the executor.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest
import slurmcalls as calls
from slurmclusters import Cluster as Slurm

from executor import SlurmJobExecutor
from executor.api import ExecutorlibSocketError

RESULT_TIMEOUT = 120.0  # generous: a busy CI machine; a hang still fails the test instead of blocking the run


def shut_down(executor: SlurmJobExecutor, seconds: float = 60.0) -> None:
    """Shut ``executor`` down; fail if that takes longer than ``seconds`` (a pending future would hang it)."""
    thread = threading.Thread(target=executor.shutdown, kwargs={"wait": True, "cancel_futures": True}, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"shutdown did not finish within {seconds} s"


@pytest.fixture
def make(slurm: Slurm, monkeypatch: pytest.MonkeyPatch):
    """Build SlurmJobExecutors (in the cluster's per-test directory, whose jobs are cancelled after the test); each
    is shut down after the test, and no srun is left."""
    monkeypatch.chdir(slurm.workdir)
    built: list[SlurmJobExecutor] = []

    def build(**kwargs) -> SlurmJobExecutor:
        executor = SlurmJobExecutor(**kwargs)
        built.append(executor)
        return executor

    yield build
    for executor in built:
        shut_down(executor)
    assert not [p for p in _children() if _comm(p) == "srun"], "an srun outlived its executor"


def _children() -> list[int]:
    me = str(os.getpid())
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if stat[stat.rindex(")") + 2 :].split()[1] == me:
                out.append(int(entry))
    return out


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def error_of(future) -> BaseException:
    error = future.exception(timeout=RESULT_TIMEOUT)
    assert error is not None, f"the call succeeded: {future.result()!r}"
    return error


# ---- calls run in srun jobs ----------------------------------------------------------------------------------------


def test_each_call_runs_in_a_job_of_its_own(make) -> None:
    executor = make()
    seen = [f.result(RESULT_TIMEOUT) for f in [executor.submit(calls.where) for _ in range(3)]]
    jobs = [s["job"] for s in seen]
    assert all(jobs) and len(set(jobs)) == 3, f"one srun job per call expected, got {jobs}"
    assert not any(s["secret_visible"] for s in seen), "the channel secret reached user code"
    assert not any(s["mpi4py_imported"] for s in seen), "a one-rank worker imported mpi4py"
    assert executor.submit(calls.double, 21).result(RESULT_TIMEOUT) == 42


def test_threads_per_core_sets_cpus_per_task_and_thread_variables(make) -> None:
    executor = make(max_cores=4)
    seen = executor.submit(calls.where, resource_dict={"threads_per_core": 2}).result(RESULT_TIMEOUT)
    assert seen["cpus_per_task"] == "2"
    assert set(seen["threads"].values()) == {"2"}


def test_cwd_becomes_the_tasks_working_directory(make, tmp_path: Path) -> None:
    target = tmp_path / "work" / "here"
    executor = make()
    seen = executor.submit(calls.where, resource_dict={"cwd": str(target)}).result(RESULT_TIMEOUT)
    assert seen["cwd"] == str(target)


def test_one_rank_workers_run_without_mpi4py(make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A one-rank worker must not need mpi4py: here importing it would fail."""
    broken = tmp_path / "no_mpi"
    (broken / "mpi4py").mkdir(parents=True)
    (broken / "mpi4py" / "__init__.py").write_text("raise ImportError('mpi4py is broken on purpose')\n")
    monkeypatch.syspath_prepend(str(broken))
    executor = make()
    assert executor.submit(calls.double, 4).result(RESULT_TIMEOUT) == 8
    executor = make(max_workers=1, block_allocation=True)
    assert executor.submit(calls.double, 5).result(RESULT_TIMEOUT) == 10


def test_exceptions_come_back_with_their_type(make) -> None:
    executor = make()
    with pytest.raises(ValueError, match="raised in the worker"):
        executor.submit(calls.raises).result(RESULT_TIMEOUT)


# ---- block allocation ---------------------------------------------------------------------------------------------


def test_block_workers_are_one_srun_job_each(make) -> None:
    executor = make(max_workers=2, block_allocation=True, init_function=calls.init)
    seen = [f.result(RESULT_TIMEOUT) for f in [executor.submit(calls.where) for _ in range(20)]]
    assert len({s["job"] for s in seen}) <= 2 and all(s["job"] for s in seen)
    assert {f.result(RESULT_TIMEOUT) for f in [executor.submit(calls.worker_id) for _ in range(20)]} <= {0, 1}
    assert executor.submit(calls.add_offset, 1).result(RESULT_TIMEOUT) == 101


def test_block_max_workers_wins_over_max_cores_as_in_executorlib(make) -> None:
    executor = make(max_workers=2, max_cores=1, block_allocation=True)
    assert executor.max_workers == 2
    assert executor.submit(calls.double, 4).result(RESULT_TIMEOUT) == 8
    executor.shutdown(wait=True)
    assert executor.max_workers is None, "None after shutdown, as executorlib"


def test_block_worker_killed_mid_call_is_restarted_up_to_restart_limit(make, tmp_path: Path) -> None:
    executor = make(max_workers=1, block_allocation=True, restart_limit=1)
    assert executor.submit(calls.die_once, str(tmp_path / "died")).result(RESULT_TIMEOUT) == "retried"
    error = error_of(executor.submit(calls.die))  # dies on the first try and on the retry
    assert isinstance(error, ExecutorlibSocketError)
    assert "srun" in str(error)
    assert executor.submit(calls.double, 3).result(RESULT_TIMEOUT) == 6, "the worker was not replaced"


def test_block_allocation_outside_an_allocation_needs_a_size(slurm: Slurm) -> None:
    with pytest.raises(ValueError, match="max_workers or max_cores"):
        SlurmJobExecutor(block_allocation=True)


def test_block_allocation_that_does_not_fit_the_allocation_says_so(slurm: Slurm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.setenv("SLURM_NTASKS", "2")
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")
    with pytest.raises(ValueError, match=r"max_workers=3 x cores=1 x threads_per_core=1 = 3 CPUs.*SLURM_NTASKS=2 x SLURM_CPUS_PER_TASK=1 = 2"):
        SlurmJobExecutor(max_workers=3, block_allocation=True)


# ---- failures quote srun -------------------------------------------------------------------------------------------


def test_worker_killed_mid_call_fails_the_call_quoting_srun(make) -> None:
    executor = make()
    error = error_of(executor.submit(calls.die))
    assert isinstance(error, ExecutorlibSocketError)
    assert "srun" in str(error) and "die()" in str(error)
    assert executor.submit(calls.double, 1).result(RESULT_TIMEOUT) == 2, "the executor is still usable"


def test_srun_rejecting_the_request_fails_the_call_quoting_srun(make) -> None:
    executor = make()
    future = executor.submit(calls.double, 1, resource_dict={"slurm_cmd_args": ["--partition=no_such_partition"]})
    error = error_of(future)
    assert isinstance(error, ExecutorlibSocketError)
    assert "launcher said: srun" in str(error) and "partition" in str(error).lower(), str(error)


def test_gpus_on_a_cluster_without_gpus_fail_the_call_quoting_srun(make) -> None:
    """``gpus_per_core`` becomes ``--gpus-per-task``: SLURM, not the executor, decides whether GPUs exist."""
    executor = make()
    error = error_of(executor.submit(calls.double, 1, resource_dict={"gpus_per_core": 1}))
    assert "launcher said: srun" in str(error) and "generic resource" in str(error), str(error)


def test_block_workers_srun_rejects_fail_the_calls_quoting_srun(make) -> None:
    executor = make(max_workers=1, block_allocation=True, resource_dict={"slurm_cmd_args": ["--partition=no_such_partition"]})
    error = error_of(executor.submit(calls.double, 1))
    assert isinstance(error, ExecutorlibSocketError)
    assert "launcher said: srun" in str(error) and "partition" in str(error).lower(), str(error)


def test_a_request_the_cluster_can_never_grant_fails_at_once_quoting_srun(make, slurm: Slurm) -> None:
    """More CPUs per task than any node has: real srun would wait forever ("Requested partition configuration not
    available now"); the call fails instead, quoting srun.  (The mock's srun exits at once, "Requested node
    configuration is not available": the call fails quoting that.)"""
    executor = make(max_cores=100_000)
    future = executor.submit(calls.double, 1, resource_dict={"threads_per_core": 4096})
    error = error_of(future)
    assert "launcher said: srun" in str(error) and "configuration not available" in str(error).replace("is not", "not"), str(error)
    if slurm.kind == "real":
        assert "can never grant" in str(error), str(error)


def test_a_call_that_can_never_fit_the_executor_fails_at_submit(make) -> None:
    executor = make(max_cores=2)
    with pytest.raises(ValueError, match="can never run"):
        executor.submit(calls.double, 1, resource_dict={"threads_per_core": 3})


def test_a_queued_request_is_given_up_after_queue_timeout(make, slurm: Slurm) -> None:
    """A request that waits in the queue (real: not before an hour from now; mock: held) fails after
    ``queue_timeout``, quoting srun, and its job does not stay in the queue."""
    executor = make(queue_timeout=2)
    wait = ["--begin=now+3600"] if slurm.mock is None else []
    if slurm.mock is not None:
        slurm.mock.hold_new_jobs()
    future = executor.submit(calls.double, 1, resource_dict={"slurm_cmd_args": [*wait, "--job-name=xlib-queued"]})
    error = error_of(future)
    assert "still queued" in str(error) and "queued and waiting for resources" in str(error), str(error)
    shut_down(executor)
    left = slurm.run("squeue", "--noheader", "--name=xlib-queued", "--format=%i %T").out.strip()
    assert not left, f"the queued job is still in the queue: {left}"


def test_scancel_fails_the_call_quoting_slurm(make, slurm: Slurm, tmp_path: Path) -> None:
    executor = make()
    marker = tmp_path / "job_id"
    future = executor.submit(calls.job_then_sleep, str(marker), 300)
    deadline = time.monotonic() + RESULT_TIMEOUT
    while not marker.exists() and not future.done() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), f"the call did not start: {future}"
    done = slurm.run("scancel", marker.read_text())
    assert done.rc == 0, str(done)
    error = error_of(future)
    assert isinstance(error, ExecutorlibSocketError)
    assert "CANCELLED" in str(error), str(error)


@pytest.mark.slurm_slow
def test_slurm_time_limit_fails_the_call_quoting_slurm(make, tmp_path: Path) -> None:
    executor = make()
    future = executor.submit(calls.job_then_sleep, str(tmp_path / "job"), 600, resource_dict={"slurm_cmd_args": ["--time=1"]})
    error = error_of(future)
    assert "TIME LIMIT" in str(error), str(error)


# ---- inside an allocation --------------------------------------------------------------------------------------------

ALLOCATION_SCRIPT = """#!/bin/bash
#SBATCH --ntasks=2
#SBATCH --output=allocation.out
{python} - <<'PY'
import json, os, sys
sys.path[:0] = {paths!r}
from executor import SlurmJobExecutor
import slurmcalls
with SlurmJobExecutor() as ex:
    per_call = [f.result(120) for f in [ex.submit(slurmcalls.where) for _ in range(2)]]
with SlurmJobExecutor(max_workers=2, block_allocation=True) as ex:
    block = [f.result(120) for f in [ex.submit(slurmcalls.where) for _ in range(4)]]
try:
    SlurmJobExecutor(max_workers=3, block_allocation=True)
    too_many = None
except ValueError as error:
    too_many = str(error)
print("RESULT " + json.dumps({{"job": os.environ["SLURM_JOB_ID"], "per_call": per_call, "block": block, "too_many": too_many}}))
PY
"""


def test_inside_an_allocation_calls_are_steps_of_it(slurm: Slurm) -> None:
    """A batch job of 2 tasks runs an executor: per-call calls are new steps of that job, block workers too, and
    a block allocation larger than SLURM_NTASKS x SLURM_CPUS_PER_TASK is refused, saying what does not fit."""
    import json

    paths = [str(Path(__file__).parent), *sys.path]
    job = slurm.sbatch(ALLOCATION_SCRIPT.format(python=sys.executable, paths=paths))
    fields = slurm.wait_state(job, "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", timeout=300)
    output = (slurm.workdir / "allocation.out").read_text()
    assert fields["JobState"] == "COMPLETED", output
    result = json.loads([line for line in output.splitlines() if line.startswith("RESULT ")][-1][len("RESULT ") :])
    assert result["job"] == str(job)
    assert {s["job"] for s in result["per_call"] + result["block"]} == {str(job)}, "calls left the allocation"
    steps = [s["step"] for s in result["per_call"]]
    assert len(set(steps)) == 2 and None not in steps, f"one step per call expected, got {steps}"
    assert "SLURM_NTASKS=2" in result["too_many"]


# ---- the constructor (no SLURM needed) ----------------------------------------------------------------------------


def test_constructor_parameters_match_executorlib_order() -> None:
    import inspect

    executorlib = pytest.importorskip("executorlib")
    theirs = list(inspect.signature(executorlib.SlurmJobExecutor).parameters)
    ours = list(inspect.signature(SlurmJobExecutor).parameters)
    assert ours[: len(theirs)] == theirs, "executorlib's parameters, in executorlib's order (extras may follow)"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"wait": False}, "wait=False"),
        ({"restart_limit": 2}, "restart_limit needs block_allocation=True"),
        ({"init_function": calls.init}, "init_function needs block_allocation=True"),
        ({"pmi_mode": ""}, "pmi_mode must be"),
        ({"queue_timeout": 0}, "queue_timeout must be"),
        ({"max_workers": 0}, "max_workers must be"),
    ],
)
def test_bad_constructor_arguments_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SlurmJobExecutor(**kwargs)


def test_without_srun_the_constructor_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="srun, which is not on PATH"):
        SlurmJobExecutor()


def test_workers_connect_by_host_name_when_asked(make) -> None:
    """``hostname_localhost=False``: the executor binds this host's address and workers connect by host name."""
    executor = make(hostname_localhost=False)
    assert executor.submit(calls.double, 2).result(RESULT_TIMEOUT) == 4


def test_run_time_max_stops_the_call_and_its_job(make, slurm: Slurm, tmp_path: Path) -> None:
    """The executor's own timer fails the call after ``run_time_max`` and stops its srun: the job ends."""
    from executor.errors import RunTimeLimitError

    executor = make()
    marker = tmp_path / "job_id"
    future = executor.submit(calls.job_then_sleep, str(marker), 300, resource_dict={"run_time_max": 2})
    error = error_of(future)
    assert isinstance(error, RunTimeLimitError), repr(error)
    job = marker.read_text()
    shut_down(executor)
    state = slurm.run("squeue", "--noheader", f"--jobs={job}", "--format=%T").out.strip()
    assert state in ("", "COMPLETING", "CANCELLED"), f"job {job} still {state} after its call was stopped"


def test_the_srun_command_line_carries_options_and_worker_only(make, tmp_path: Path) -> None:
    """What ``ps`` and SLURM show of a worker: srun's options and the worker module, never the channel secret
    (it travels in the environment)."""
    executor = make()
    marker = tmp_path / "job_id"
    future = executor.submit(calls.job_then_sleep, str(marker), 60, resource_dict={"threads_per_core": 2, "run_time_max": 3})
    deadline = time.monotonic() + RESULT_TIMEOUT
    while not marker.exists() and not future.done() and time.monotonic() < deadline:
        time.sleep(0.05)
    sruns = [p for p in _children() if _comm(p) == "srun"]
    assert len(sruns) == 1, sruns
    argv = [a.decode() for a in Path(f"/proc/{sruns[0]}/cmdline").read_bytes().split(b"\0")[:-1]]
    expected = ["-n", "1", "--cpus-per-task=2", "--time=1", sys.executable, "-c", "from executor.worker.launched import main; main()"]
    assert argv[-len(expected) :] == expected  # the mock's srun is a Python script: its argv starts with python
    assert len(argv) <= len(expected) + 4, argv


def test_the_job_of_a_sigkilled_srun_is_cancelled(slurm: Slurm) -> None:
    """A SIGKILLed srun leaves its job's allocation behind (a running one keeps its CPUs, seen on 22.05):
    ``cancel_jobs_of`` finds it by srun's session (``AllocSID``) and cancels it."""
    import signal
    import subprocess

    from executor.spawners.slurm_cluster import cancel_jobs_of

    srun = subprocess.Popen(
        ["srun", "-n1", "--job-name=xlib-sigkilled", "sleep", "300"], cwd=slurm.workdir, start_new_session=True,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + RESULT_TIMEOUT
        while "RUNNING" not in slurm.run("squeue", "--noheader", "--name=xlib-sigkilled", "--format=%T").out:
            assert time.monotonic() < deadline and srun.poll() is None, "the job did not start"
            time.sleep(0.1)
    finally:
        os.killpg(srun.pid, signal.SIGKILL)
        srun.wait()
    cancel_jobs_of(srun.pid)
    deadline = time.monotonic() + 60
    while (state := slurm.run("squeue", "--noheader", "--name=xlib-sigkilled", "--format=%T").out.strip()) not in ("", "COMPLETING"):
        assert time.monotonic() < deadline, f"the job of the SIGKILLed srun is still {state}"
        time.sleep(0.2)
