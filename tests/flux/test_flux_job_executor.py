"""FluxJobExecutor in a (mock) flux instance: each worker is a flux job with the call's resources, per call and
with block allocation, MPI calls get a COMM_WORLD of ``cores`` ranks, and no job outlives the executor."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

import fluxcalls
import pytest
from fluxhelpers import flux_module, instance_cores, job_result

from executor import FluxJobExecutor

needs_mpi4py = pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None, reason="mpi4py is not installed (the 'mpi' extra)")


def test_each_call_is_a_flux_job_of_its_own(make_executor: Callable[..., FluxJobExecutor]) -> None:
    ex = make_executor()
    seen = [f.result(60) for f in [ex.submit(fluxcalls.job) for _ in range(3)]]
    ids = [s["job_id"] for s in seen]
    assert all(ids) and len(set(ids)) == 3, ids
    assert len({s["pid"] for s in seen}) == 3
    assert all(s["job_size"] == "1" for s in seen)
    assert all(s["config"] is None for s in seen), "the worker's secret reached the call's environment"
    for jobid in ids:  # each one has ended by itself after its call
        assert job_result(jobid).result == "COMPLETED"


def test_results_arguments_and_dependencies(make_executor: Callable[..., FluxJobExecutor]) -> None:
    ex = make_executor()
    first = ex.submit(fluxcalls.add, 1, 2)
    second = ex.submit(fluxcalls.add, first, 10)
    assert second.result(60) == 13
    assert list(ex.map(fluxcalls.add, [1, 2, 3], [10, 20, 30])) == [11, 22, 33]


def test_threads_per_core_and_cwd_reach_the_job(make_executor: Callable[..., FluxJobExecutor], tmp_path: Path) -> None:
    ex = make_executor(resource_dict={"threads_per_core": 2})
    seen = ex.submit(fluxcalls.job, resource_dict={"cwd": str(tmp_path / "made")}).result(60)
    assert seen["omp"] == "2"
    assert seen["cwd"] == str(tmp_path / "made")


def test_log_files_hold_the_jobs_output(make_executor: Callable[..., FluxJobExecutor], tmp_path: Path) -> None:
    ex = make_executor(flux_log_files=True, resource_dict={"cwd": str(tmp_path)})
    assert ex.submit(fluxcalls.speak, "hello").result(60) == "hello"
    ex.shutdown(wait=True)
    assert "out: hello" in (tmp_path / "flux_0.out").read_text()
    assert "err: hello" in (tmp_path / "flux_0.err").read_text()


def test_block_allocation_workers_are_persistent_jobs(make_executor: Callable[..., FluxJobExecutor]) -> None:
    ex = make_executor(block_allocation=True, max_workers=2, init_function=fluxcalls.init_offset)
    assert ex.max_workers == 2
    seen = [f.result(60) for f in [ex.submit(fluxcalls.whoami) for _ in range(12)]]
    assert {worker_id for worker_id, _, _ in seen} <= {100, 101}
    by_job = {job: pid for _, pid, job in seen}
    assert 1 <= len(by_job) <= 2 and all(by_job)  # the calls ran in at most two jobs, one process each
    assert len({pid for _, pid, _ in seen}) == len(by_job)
    ex.shutdown(wait=True)
    assert ex.max_workers is None, "None after shutdown, as executorlib"
    for jobid in by_job:  # stopped at shutdown: none is left running in the instance
        assert job_result(jobid).result in ("COMPLETED", "CANCELED")


def test_block_allocation_must_fit_the_instance(flux_instance: object) -> None:
    cores = instance_cores()
    with pytest.raises(ValueError, match=f"the flux instance has {cores} cores up"):
        FluxJobExecutor(block_allocation=True, max_workers=cores + 1)


def test_a_call_larger_than_the_instance_fails_at_submit(make_executor: Callable[..., FluxJobExecutor]) -> None:
    ex = make_executor()
    cores = instance_cores()
    with pytest.raises(ValueError, match=f"may use {cores} cores at once"):
        ex.submit(fluxcalls.add, 1, 2, resource_dict={"threads_per_core": cores + 1})


@needs_mpi4py
def test_mpi_call_gets_a_comm_world_of_cores_ranks(make_executor: Callable[..., FluxJobExecutor]) -> None:
    ex = make_executor()
    assert ex.submit(fluxcalls.ranks, 7, resource_dict={"cores": 2}).result(120) == [(0, 2, 7), (1, 2, 7)]


@needs_mpi4py
def test_mpi_block_workers(make_executor: Callable[..., FluxJobExecutor]) -> None:
    ex = make_executor(block_allocation=True, max_cores=2, resource_dict={"cores": 2})
    assert [f.result(120) for f in [ex.submit(fluxcalls.ranks, i) for i in range(3)]] == [
        [(0, 2, i), (1, 2, i)] for i in range(3)
    ]


def test_a_flux_executor_of_the_caller_is_used_and_left_running(flux_instance: object) -> None:
    flux = flux_module()
    mine = flux.job.FluxExecutor()
    try:
        with FluxJobExecutor(flux_executor=mine) as ex:
            assert ex.submit(fluxcalls.add, 2, 3).result(60) == 5
        jobspec = flux.job.JobspecV1.from_command(["true"])
        assert mine.submit(jobspec).result(60) == 0  # still usable after the executor's shutdown
    finally:
        mine.shutdown(wait=True)


def test_info_names_the_flux_settings(make_executor: Callable[..., FluxJobExecutor]) -> None:
    ex = make_executor(pmi_mode="pmi2", flux_log_files=False)
    info = ex.info
    assert info is not None
    assert info["pmi_mode"] == "pmi2" and info["flux_executor_nesting"] is False and info["cores"] == 1
    ex.shutdown()
    assert ex.info is None


def test_nesting_runs_the_call_in_a_flux_instance_of_its_own(make_executor: Callable[..., FluxJobExecutor]) -> None:
    ex = make_executor(flux_executor_nesting=True)
    seen = ex.submit(fluxcalls.job).result(120)
    assert seen["flux_uri"] and seen["flux_uri"] != os.environ["FLUX_URI"]


def test_gpus_are_assigned_by_flux(tmp_path: Path) -> None:
    from pytest_executorlib.mocks.flux.instance import MockFlux

    with MockFlux(tmp_path / "gpu-flux", cores_per_node=2, gpus_per_node=2) as instance:
        instance.activate()
        with FluxJobExecutor(resource_dict={"gpus_per_core": 1}) as ex:
            futures = [ex.submit(fluxcalls.add, i, 1) for i in range(3)]
            assert [f.result(60) for f in futures] == [1, 2, 3]
