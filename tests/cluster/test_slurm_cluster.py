"""SlurmClusterExecutor against the mock SLURM: one job per call, queue dependencies, failures that never hang
and are never cached, reconnecting, cancelling."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import CancelledError

import pytest
from clusterfns import add, boom, job_id, pair, slow, total

from executor import SlurmClusterExecutor, split_future, terminate_tasks_in_cache
from executor.cache.key import task_key
from executor.schedulers import files
from executor.schedulers.files import QueueJobError

PART = {"partition": "debug"}


def jobs_in_state(slurm, count: int, state: str) -> list[int]:  # type: ignore[no-untyped-def]
    """Wait (bounded, backoff) until ``count`` jobs exist and all are in ``state``; their ids."""
    import time

    deadline, delay = time.monotonic() + 60, 0.01
    while True:
        jobs = slurm.jobs()
        if len(jobs) == count and all(j.state == state for j in jobs):
            return [j.id for j in jobs]
        assert time.monotonic() < deadline, f"expected {count} jobs {state}, got {[(j.id, j.state) for j in jobs]}"
        time.sleep(delay)
        delay = min(0.2, delay * 2)


def sbatch_count(slurm) -> int:  # type: ignore[no-untyped-def]
    return len(slurm.calls("sbatch"))


def test_each_call_is_one_batch_job_and_results_come_back(slurm, cache: str) -> None:
    with SlurmClusterExecutor(cache_directory=cache, resource_dict=PART) as exe:
        futures = [exe.submit(add, i, 1) for i in range(3)]
        ids = exe.submit(job_id)
        assert [f.result(timeout=60) for f in futures] == [1, 2, 3]
        assert ids.result(timeout=60) in {str(j.id) for j in slurm.jobs()}
    assert sbatch_count(slurm) == 4
    assert sorted(os.path.basename(f) for f in os.listdir(cache) if f.endswith("_o.h5")) == sorted(
        os.path.basename(f) for f in os.listdir(cache) if f.endswith(".h5")
    )  # every _i.h5 became an _o.h5


def test_several_parents_become_afterok_on_every_parent(slurm, cache: str) -> None:
    with SlurmClusterExecutor(cache_directory=cache, resource_dict=PART) as exe:
        a, b = exe.submit(add, 1, 2), exe.submit(add, 10, 20)
        c = exe.submit(total, a, b, 100)
        first, second = split_future(exe.submit(pair, 4), 2)
        d = exe.submit(add, first, b=second)
        assert c.result(timeout=60) == 133
        assert d.result(timeout=60) == 44
    jobs = slurm.jobs()
    (total_job,) = [j for j in jobs if os.path.basename(j.workdir).startswith("total")]
    (pair_job,) = [j for j in jobs if os.path.basename(j.workdir).startswith("pair")]
    parents = {str(j.id) for j in jobs if not j.dependency and j.id != pair_job.id}
    dep = total_job.dependency
    assert dep.startswith("afterok:") and "," not in dep  # not afterok:A,B (= afterok A, afterany B)
    assert set(dep.split(":")[1:]) == parents and len(parents) == 2
    assert [j.dependency for j in slurm.jobs() if j.dependency and j.id != total_job.id] == [f"afterok:{pair_job.id}"]


def test_a_python_error_fails_the_call_and_its_dependents(slurm, cache: str) -> None:
    with SlurmClusterExecutor(cache_directory=cache, resource_dict=PART) as exe:
        bad = exe.submit(boom, "no luck")
        child = exe.submit(add, bad, 1)
        with pytest.raises(ValueError, match="no luck"):
            bad.result(timeout=60)
        with pytest.raises(ValueError, match="no luck"):
            child.result(timeout=60)


def test_a_rejected_submission_fails_with_sbatchs_message_and_is_not_cached(slurm, cache: str) -> None:
    with SlurmClusterExecutor(cache_directory=cache) as exe:  # pysqa's template: --partition= (empty)
        future = exe.submit(add, 1, 1)
        with pytest.raises(QueueJobError, match="invalid partition specified") as info:
            future.result(timeout=60)
    assert "sbatch" in str(info.value)
    assert not [f for f in os.listdir(cache) if f.endswith((".h5"))]
    with SlurmClusterExecutor(cache_directory=cache, resource_dict=PART) as exe:
        assert exe.submit(add, 1, 1).result(timeout=60) == 2  # submitted again, not a cached failure


def test_a_fault_injected_rejection_quotes_the_queue(slurm, cache: str) -> None:
    slurm.fault_next("reject", "QOSMaxSubmitJobPerUserLimit", command="sbatch")
    with SlurmClusterExecutor(cache_directory=cache, resource_dict=PART) as exe:
        with pytest.raises(QueueJobError, match="QOSMaxSubmitJobPerUserLimit"):
            exe.submit(add, 2, 2).result(timeout=60)


@pytest.mark.parametrize(
    ("kind", "value", "state"),
    [("timeout", 1, "TIMEOUT"), ("nodefail", 1, "NODE_FAIL"), ("no_output", None, "FAILED"), ("exit", 3, "FAILED")],
)
def test_a_job_that_ends_without_output_fails_its_future_naming_job_state_and_output(slurm, cache: str, kind: str, value: object, state: str) -> None:
    slurm.fault_next(kind, value, command="sbatch")
    with SlurmClusterExecutor(cache_directory=cache, resource_dict=PART) as exe:
        future = exe.submit(slow, 1, 30)
        child = exe.submit(add, future, 1)
        with pytest.raises(QueueJobError) as info:
            future.result(timeout=60)
        with pytest.raises(QueueJobError):
            child.result(timeout=60)  # at once, not PENDING for ever behind a failed afterok
    job = slurm.jobs()[0]
    message = str(info.value)
    assert f"queue job {job.id} " in message and state in message and "time.out" in message
    if kind in ("timeout", "nodefail"):
        assert f"*** JOB {job.id} ON" in message  # the end of the job's output file is quoted
    assert slurm.jobs()[1].state == "CANCELLED"  # the dependent's job was cancelled
    key = message.split("cache key ")[1].split(")")[0]
    assert not os.path.exists(os.path.join(cache, key + "_o.h5"))  # nothing cached: the next run tries again


def test_scancel_from_outside_fails_the_future(slurm, cache: str) -> None:
    with SlurmClusterExecutor(cache_directory=cache, resource_dict=PART) as exe:
        future = exe.submit(slow, 1, 60)
        (job,) = jobs_in_state(slurm, 1, "RUNNING")
        subprocess.run(["scancel", str(job)], check=True)
        with pytest.raises(QueueJobError, match=rf"queue job {job} .*CANCELLED"):
            future.result(timeout=60)


def test_a_transient_squeue_failure_is_retried(slurm, squeue_faults, cache: str) -> None:
    squeue_faults.write_text("2")
    with SlurmClusterExecutor(cache_directory=cache, resource_dict=PART) as exe:
        assert exe.submit(slow, 5, 4).result(timeout=60) == 5
    assert squeue_faults.read_text().strip() == "0"  # both failures happened, and the call still succeeded


def test_a_persistent_squeue_failure_is_reported(slurm, squeue_faults, cache: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "STATUS_FAILURES", 2)
    monkeypatch.setattr(files, "STATUS_INTERVAL", 0.2)
    squeue_faults.write_text("1000")
    slurm.hold_new_jobs(True)
    with SlurmClusterExecutor(cache_directory=cache, resource_dict=PART) as exe:
        future = exe.submit(add, 1, 1)
        with pytest.raises(QueueJobError, match="Socket timed out"):
            future.result(timeout=60)
    slurm.release()


def test_wait_false_leaves_jobs_running_and_a_new_executor_reconnects_without_sbatch(slurm, cache: str) -> None:
    slurm.hold_new_jobs(True)
    exe = SlurmClusterExecutor(cache_directory=cache, resource_dict=PART, wait=False)
    first, second = exe.submit(add, 1, 2), exe.submit(add, 3, 4)
    jobs_in_state(slurm, 2, "PENDING")
    exe.shutdown()
    assert first.cancelled() and second.cancelled()
    assert [j.state for j in slurm.jobs()] == ["PENDING", "PENDING"]
    slurm.hold_new_jobs(False)
    slurm.release(1)
    slurm.wait(1)
    with SlurmClusterExecutor(cache_directory=cache, resource_dict=PART) as again:
        futures = [again.submit(add, 1, 2), again.submit(add, 3, 4)]
        slurm.release()
        assert [f.result(timeout=60) for f in futures] == [3, 7]
    assert sbatch_count(slurm) == 2  # reconnected to job 2, job 1's result was a cache hit
    with SlurmClusterExecutor(cache_directory=cache, resource_dict=PART) as third:
        assert third.submit(add, 3, 4).result(timeout=60) == 7
    assert sbatch_count(slurm) == 2


def test_a_new_executor_resubmits_a_call_whose_job_vanished(slurm, cache: str) -> None:
    slurm.fault_next("no_output", command="sbatch")
    slurm.hold_new_jobs(True)
    exe = SlurmClusterExecutor(cache_directory=cache, resource_dict=PART, wait=False)
    exe.submit(add, 5, 5)
    exe.shutdown()
    slurm.hold_new_jobs(False)
    slurm.release()
    slurm.wait(1)
    with SlurmClusterExecutor(cache_directory=cache, resource_dict=PART) as again:
        assert again.submit(add, 5, 5).result(timeout=60) == 10
    assert sbatch_count(slurm) == 2


def test_cancelling_a_future_or_shutting_down_with_cancel_futures_cancels_the_jobs(slurm, cache: str) -> None:
    slurm.hold_new_jobs(True)
    exe = SlurmClusterExecutor(cache_directory=cache, resource_dict=PART)
    one, two, three = exe.submit(add, 1, 1), exe.submit(add, 2, 2), exe.submit(add, 3, 3)
    jobs_in_state(slurm, 3, "PENDING")
    assert one.cancel()
    (job,) = [j.id for j in slurm.jobs() if os.path.basename(j.workdir) == task_key(add, [1, 1], {})]
    assert slurm.wait(job, until=lambda j: j.state == "CANCELLED").state == "CANCELLED"
    assert sorted(j.state for j in slurm.jobs()) == ["CANCELLED", "PENDING", "PENDING"]
    exe.shutdown(cancel_futures=True)
    assert two.cancelled() and three.cancelled()
    assert [j.state for j in slurm.jobs()] == ["CANCELLED"] * 3
    with pytest.raises(CancelledError):
        two.result(timeout=1)


def test_terminate_tasks_in_cache_cancels_jobs_written_by_this_executor(slurm, cache: str) -> None:
    slurm.hold_new_jobs(True)
    exe = SlurmClusterExecutor(cache_directory=cache, resource_dict=PART, wait=False)
    exe.submit(add, 1, 1)
    exe.submit(add, 2, 2)
    jobs_in_state(slurm, 2, "PENDING")
    exe.shutdown()
    terminate_tasks_in_cache(cache, backend="slurm")
    assert [j.state for j in slurm.jobs()] == ["CANCELLED", "CANCELLED"]
    assert not [f for f in os.listdir(cache) if f.endswith("_i.h5")]


def test_block_allocation_is_refused_clearly(slurm, cache: str) -> None:
    with pytest.raises(ValueError, match="block_allocation=True"):
        SlurmClusterExecutor(cache_directory=cache, block_allocation=True)
    with pytest.raises(ValueError, match="max_workers needs block_allocation"):
        SlurmClusterExecutor(cache_directory=cache, max_workers=2)


def test_unknown_resource_keys_warn_and_reach_the_template(slurm, cache: str) -> None:
    template = "#!/bin/bash\n#SBATCH --job-name={{job_name}}\n#SBATCH --chdir={{working_directory}}\n#SBATCH --partition={{partition}}\n#SBATCH --comment={{flavour}}\n\n{{command}}\n"
    with pytest.warns(UserWarning, match="flavour"):
        exe = SlurmClusterExecutor(cache_directory=cache, resource_dict={**PART, "submission_template": template, "flavour": "vanilla"})
    with exe:
        assert exe.submit(add, 1, 1).result(timeout=60) == 2
    script = open(os.path.join(slurm.jobs()[0].workdir, "run_queue.sh")).read()
    assert "--comment=vanilla" in script


def test_cores_2_runs_the_call_on_two_mpi_ranks_with_srun_inside_the_job(slurm, cache: str) -> None:
    pytest.importorskip("mpi4py", reason="MPI calls need mpi4py (the 'mpi' extra)")
    from clusterfns import mpi_rank

    with SlurmClusterExecutor(cache_directory=cache, resource_dict=PART, pmi_mode="pmi2") as exe:
        assert exe.submit(mpi_rank, resource_dict={"cores": 2}).result(timeout=60) == [(0, 2), (1, 2)]
    steps = [c.argv for c in slurm.calls("srun")]
    assert steps and steps[0][:4] == ["-n", "2", "--mpi=pmi2", sys.executable]


def test_a_refused_submission_executorlib_cached_is_submitted_again(slurm, cache: str) -> None:
    """executorlib stores a refused sbatch as the call's error (no runtime: it never ran); we do not serve it."""
    from executor.cache import store

    os.makedirs(cache)
    refused = subprocess.CalledProcessError(1, "sbatch", output="sbatch: error: invalid partition specified: (null)")
    store.write_file(os.path.join(cache, task_key(add, [2, 2], {}) + "_o.h5"), {"function": store.pickle_value(add), "error": store.pickle_value(refused)})
    with SlurmClusterExecutor(cache_directory=cache, resource_dict=PART) as exe:
        assert exe.submit(add, 2, 2).result(timeout=60) == 4
    assert sbatch_count(slurm) == 1
