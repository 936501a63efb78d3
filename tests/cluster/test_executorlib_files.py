"""Our SlurmClusterExecutor and executorlib's share a cache directory, in both directions, on the mock SLURM;
the public cache functions read files written by either."""

from __future__ import annotations

import os
import time

import pytest
from clusterfns import add, boom

from executor import SlurmClusterExecutor, get_cache_data, get_future_from_cache, terminate_task_in_cache
from executor.cache import key as cache_key

executorlib = pytest.importorskip("executorlib", reason="the executorlib comparison needs executorlib installed")
pytest.importorskip("h5py", reason="executorlib's cache files need h5py")



def part() -> dict[str, str]:
    """A fresh resource_dict each time: executorlib merges its defaults (cache_directory...) into the caller's dict."""
    return {"partition": "debug"}


@pytest.fixture(autouse=True)
def _jobs_import_clusterfns(monkeypatch: pytest.MonkeyPatch) -> None:
    """executorlib's jobs get this process's environment: let them import the test functions' module."""
    here = os.path.dirname(os.path.abspath(__file__))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])))


def key_of(fn, *args) -> str:  # type: ignore[no-untyped-def]
    return cache_key.task_key(fn, list(args), {})  # the cluster executors hash args as a list


def test_executorlibs_results_are_our_cache_hits_and_its_errors_are_raised(slurm, cache: str) -> None:
    with executorlib.SlurmClusterExecutor(cache_directory=cache, resource_dict=part()) as theirs:
        assert theirs.submit(add, 2, 3).result(timeout=60) == 5
        with pytest.raises(ValueError):
            theirs.submit(boom, "theirs").result(timeout=60)
    submitted = len(slurm.calls("sbatch"))
    with SlurmClusterExecutor(cache_directory=cache, resource_dict=part()) as ours:
        assert ours.submit(add, 2, 3).result(timeout=60) == 5
        with pytest.raises(ValueError, match="theirs"):
            ours.submit(boom, "theirs").result(timeout=60)
    assert len(slurm.calls("sbatch")) == submitted  # no new job
    assert get_future_from_cache(cache, key_of(add, 2, 3)).result() == 5
    assert {entry.get("output") for entry in get_cache_data(cache)} >= {5}


def test_our_results_are_executorlibs_cache_hits(slurm, cache: str) -> None:
    with SlurmClusterExecutor(cache_directory=cache, resource_dict=part()) as ours:
        assert ours.submit(add, 4, 5).result(timeout=60) == 9
        with pytest.raises(ValueError):
            ours.submit(boom, "ours").result(timeout=60)
    submitted = len(slurm.calls("sbatch"))
    with executorlib.SlurmClusterExecutor(cache_directory=cache, resource_dict=part()) as theirs:
        assert theirs.submit(add, 4, 5).result(timeout=60) == 9
        with pytest.raises(ValueError, match="ours"):
            theirs.submit(boom, "ours").result(timeout=60)
    assert len(slurm.calls("sbatch")) == submitted
    data = {entry["filename"]: entry for entry in executorlib.get_cache_data(cache)}
    assert data[os.path.join(cache, key_of(add, 4, 5) + "_o.h5")]["output"] == 9
    assert executorlib.get_future_from_cache(cache, key_of(add, 4, 5)).result() == 9


def test_executorlib_reconnects_to_our_running_job_and_we_to_its(slurm, cache: str) -> None:
    slurm.hold_new_jobs(True)
    ours = SlurmClusterExecutor(cache_directory=cache, resource_dict=part(), wait=False)
    ours.submit(add, 6, 7)
    theirs = executorlib.SlurmClusterExecutor(cache_directory=cache, resource_dict=part(), wait=False)
    theirs.submit(add, 8, 9)
    _wait_jobs(slurm, 2)
    ours.shutdown()
    theirs.shutdown()
    slurm.hold_new_jobs(False)
    with SlurmClusterExecutor(cache_directory=cache, resource_dict=part()) as ours_again:
        other = ours_again.submit(add, 8, 9)  # executorlib's job 2
        slurm.release(2)
        assert other.result(timeout=60) == 17
    listed = len(slurm.calls("squeue"))
    with executorlib.SlurmClusterExecutor(cache_directory=cache, resource_dict=part()) as theirs_again:
        mine = theirs_again.submit(add, 6, 7)  # our job 1
        # executorlib looks the job up (squeue) before deciding not to resubmit; releasing the job earlier
        # races with that: a running job has renamed its _i.h5 to _r.h5, and executorlib would submit again
        _wait(lambda: len(slurm.calls("squeue")) >= listed + 2)
        slurm.release(1)
        assert mine.result(timeout=60) == 13
    assert len(slurm.calls("sbatch")) == 2  # both reconnected, nothing submitted again


def test_terminate_task_in_cache_cancels_a_job_executorlib_submitted(slurm, cache: str) -> None:
    slurm.hold_new_jobs(True)
    theirs = executorlib.SlurmClusterExecutor(cache_directory=cache, resource_dict=part(), wait=False)
    theirs.submit(add, 1, 2)
    (job,) = _wait_jobs(slurm, 1)
    theirs.shutdown()
    terminate_task_in_cache(cache, key_of(add, 1, 2), backend="slurm")
    assert slurm.wait(job).state == "CANCELLED"
    assert not os.path.exists(os.path.join(cache, key_of(add, 1, 2) + "_i.h5"))


def _wait(condition) -> None:  # type: ignore[no-untyped-def]
    deadline, delay = time.monotonic() + 60, 0.01
    while not condition():
        assert time.monotonic() < deadline, "condition not met within 60 s"
        time.sleep(delay)
        delay = min(0.2, delay * 2)


def _wait_jobs(slurm, count: int) -> list[int]:  # type: ignore[no-untyped-def]
    _wait(lambda: len(slurm.jobs()) >= count)
    return [j.id for j in slurm.jobs()]
