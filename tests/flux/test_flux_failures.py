"""What goes wrong with flux ends in a clear error, within a bounded time, quoting flux: no instance, a request
flux refuses or can never satisfy, a job cancelled or out of time, a worker that dies, a job stuck in the queue;
and no job is left active afterwards."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fluxcalls
import pytest
from fluxhelpers import flux_module, instance_cores, job_result, wait_for_file

from executor import FluxJobExecutor
from executor.api import ExecutorlibSocketError
from executor.errors import FluxUnavailableError, RunTimeLimitError


def test_no_instance_is_an_error_at_construction(flux_instance: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLUX_URI", raising=False)
    with pytest.raises(FluxUnavailableError, match="FLUX_URI is not set.*Unable to connect to Flux"):
        FluxJobExecutor()


def test_a_request_flux_refuses_fails_at_submit_in_flux_words(make_executor: Callable[..., FluxJobExecutor]) -> None:
    ex = make_executor()
    with pytest.raises(ValueError, match="exclusive can only be set with a node count"):
        ex.submit(fluxcalls.add, 1, 2, resource_dict={"exclusive": True})
    with pytest.raises(ValueError, match=r"flux accepts 0\.\.31"):
        ex.submit(fluxcalls.add, 1, 2, resource_dict={"priority": 40})
    with pytest.raises(ValueError, match="slurm_cmd_args are passed to srun"):
        ex.submit(fluxcalls.add, 1, 2, resource_dict={"slurm_cmd_args": ["--exclusive"]})


def test_an_unsatisfiable_request_fails_its_call_quoting_flux(make_executor: Callable[..., FluxJobExecutor]) -> None:
    cores = instance_cores()
    ex = make_executor(max_cores=4 * cores)  # the executor allows it; only flux knows it can never run
    future = ex.submit(fluxcalls.add, 1, 2, resource_dict={"threads_per_core": 2 * cores})
    with pytest.raises(ExecutorlibSocketError, match="type=alloc.*unsatisfiable request"):
        future.result(60)
    assert ex.submit(fluxcalls.add, 1, 2).result(60) == 3  # the executor goes on


def test_gpus_the_instance_lacks_fail_the_call_quoting_flux(make_executor: Callable[..., FluxJobExecutor]) -> None:
    ex = make_executor()  # flux assigns GPUs itself: the executor hands out none and does not hold the call back
    with pytest.raises(ExecutorlibSocketError, match="type=alloc.*unsatisfiable request"):
        ex.submit(fluxcalls.add, 1, 2, resource_dict={"gpus_per_core": 1}).result(60)


def test_a_job_cancelled_in_flux_fails_its_call(make_executor: Callable[..., FluxJobExecutor], tmp_path: Path) -> None:
    ex = make_executor()
    future = ex.submit(fluxcalls.announce_then_sleep, str(tmp_path / "job"), 30)
    jobid = wait_for_file(tmp_path / "job")
    flux = flux_module()
    flux.job.cancel(flux.Flux(), flux.job.JobID(jobid))
    with pytest.raises(ExecutorlibSocketError, match="type=cancel"):
        future.result(60)
    assert job_result(jobid).result == "CANCELED"


def test_a_job_flux_times_out_fails_its_call_quoting_flux(make_executor: Callable[..., FluxJobExecutor], flux_instance: Any, tmp_path: Path) -> None:
    ex = make_executor()
    flux_instance.fault_next("timeout", 0.5)  # the mock's fault injection: flux's time limit expires 0.5 s after start
    with pytest.raises(ExecutorlibSocketError, match="type=timeout: resource allocation expired"):
        ex.submit(fluxcalls.announce_then_sleep, str(tmp_path / "job"), 30).result(60)
    assert ex.submit(fluxcalls.add, 1, 1).result(60) == 2


def test_a_worker_that_dies_fails_its_call(make_executor: Callable[..., FluxJobExecutor]) -> None:
    ex = make_executor()
    with pytest.raises(ExecutorlibSocketError, match=r"flux job .* was killed by SIGKILL"):
        ex.submit(fluxcalls.die).result(60)
    assert ex.submit(fluxcalls.add, 2, 2).result(60) == 4


def test_a_block_worker_that_dies_is_replaced(make_executor: Callable[..., FluxJobExecutor]) -> None:
    ex = make_executor(block_allocation=True, max_workers=1)
    _, _, first_job = ex.submit(fluxcalls.whoami).result(60)
    with pytest.raises(ExecutorlibSocketError, match="SIGKILL"):
        ex.submit(fluxcalls.die).result(60)
    worker_id, _, second_job = ex.submit(fluxcalls.whoami).result(60)
    assert worker_id == 0 and second_job != first_job


def test_run_time_max_stops_the_call_and_ends_its_job(make_executor: Callable[..., FluxJobExecutor], tmp_path: Path) -> None:
    ex = make_executor()
    future = ex.submit(fluxcalls.announce_then_sleep, str(tmp_path / "job"), 30, resource_dict={"run_time_max": 1})
    with pytest.raises(RunTimeLimitError, match="run_time_max of 1 s"):
        future.result(60)
    assert job_result(wait_for_file(tmp_path / "job")).result in ("FAILED", "CANCELED")


class Recording:
    """A flux_executor that remembers the futures of the jobs submitted through it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.futures: list[Any] = []

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        future = self.inner.submit(*args, **kwargs)
        self.futures.append(future)
        return future


def first_future(recording: Recording) -> Any:
    """The first job submitted through ``recording`` (block workers are submitted by the scheduler thread)."""
    deadline = time.monotonic() + 60
    while not recording.futures:
        assert time.monotonic() < deadline, "the executor submitted no job within 60 s"
        time.sleep(0.01)
    return recording.futures[0]


@contextlib.contextmanager
def all_cores_held() -> Iterator[None]:
    """Another job holds every core of the instance meanwhile, so new jobs wait in flux's queue."""
    flux = flux_module()
    blocker = flux.job.FluxExecutor()
    started = threading.Event()
    held = blocker.submit(flux.job.JobspecV1.from_command(["sleep", "300"], num_tasks=1, cores_per_task=instance_cores()))
    held.add_event_callback("start", lambda *_: started.set())
    try:
        assert started.wait(60), "the job holding the cores did not start"
        yield
    finally:
        flux.job.cancel(flux.Flux(), held.jobid())
        blocker.shutdown(wait=True)


def test_a_job_that_stays_queued_is_cancelled_after_queue_timeout(flux_instance: object) -> None:
    flux = flux_module()
    recording = Recording(flux.job.FluxExecutor())
    with all_cores_held(), FluxJobExecutor(queue_timeout=1, flux_executor=recording) as ex:
        with pytest.raises(ExecutorlibSocketError, match=r"did not start within .* 1 s \(still queued\)"):
            ex.submit(fluxcalls.add, 1, 2).result(60)
        (future,) = recording.futures
        assert isinstance(future.exception(60), flux.job.event.JobException) and future.exception().type == "cancel"
    recording.inner.shutdown(wait=True)


def test_shutdown_cancels_worker_jobs_still_queued(flux_instance: object) -> None:
    """A worker whose job never started is cancelled in flux (executorlib's flux spawner only calls the
    future's cancel(), which leaves a submitted job in the queue)."""
    flux = flux_module()
    recording = Recording(flux.job.FluxExecutor())
    with all_cores_held():
        ex = FluxJobExecutor(block_allocation=True, max_workers=1, flux_executor=recording)
        future = first_future(recording)
        future.jobid(60)
        ex.shutdown(wait=True)
        assert future.done(), "the queued worker job was left in flux's queue"
        assert future.exception().type == "cancel"
    recording.inner.shutdown(wait=True)


def test_shutdown_ends_every_job_of_the_executor(flux_instance: object) -> None:
    flux = flux_module()
    recording = Recording(flux.job.FluxExecutor())
    ex = FluxJobExecutor(block_allocation=True, max_workers=2, flux_executor=recording)
    assert [f.result(60) for f in [ex.submit(fluxcalls.add, i, 1) for i in range(4)]] == [1, 2, 3, 4]
    ex.shutdown(wait=True)
    assert len(recording.futures) == 2
    assert all(f.done() for f in recording.futures), "a worker job was still active after shutdown()"
    recording.inner.shutdown(wait=True)
