"""executorlib's own FluxJobExecutor and pysqa's flux adapter, unchanged, on the mock flux (the must-haves)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from pytest_executorlib.mocks.flux import MockFlux

pytestmark = pytest.mark.mock_flux(cores_per_node=4)


def test_executorlib_flux_job_executor_per_call(mock_flux: MockFlux, tmp_path: Path) -> None:
    from executorlib import FluxJobExecutor

    with FluxJobExecutor(cache_directory=str(tmp_path / "cache")) as executor:
        futures = [executor.submit(pow, 2, i) for i in range(3)]
        assert [f.result(timeout=120) for f in futures] == [1, 2, 4]
    jobs = mock_flux.jobs()
    assert len(jobs) == 3 and {j.result for j in jobs} == {"COMPLETED"}
    assert all(j.events[-1] == "clean" and "alloc" in j.events for j in jobs)


def test_executorlib_flux_job_executor_block_allocation(mock_flux: MockFlux) -> None:
    from executorlib import FluxJobExecutor

    with FluxJobExecutor(max_workers=2, block_allocation=True) as executor:
        assert [f.result(timeout=120) for f in [executor.submit(sum, [i, i]) for i in range(6)]] == [0, 2, 4, 6, 8, 10]
    assert len(mock_flux.jobs()) == 2  # one flux job per worker
    with pytest.raises(ValueError, match="larger than the available cores 4 < 8"):
        FluxJobExecutor(max_workers=8, block_allocation=True)


@pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None, reason="mpi4py not installed (the mpi extra)")
def test_executorlib_flux_job_executor_mpi_cores_2(mock_flux: MockFlux, tmp_path: Path) -> None:
    from executorlib import FluxJobExecutor

    def _mpi_rank_and_size(x: int) -> tuple[int, int, int]:  # nested: pickled by value (workers cannot import tests)
        from mpi4py import MPI

        return MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size(), x

    with FluxJobExecutor(resource_dict={"cores": 2}, cache_directory=str(tmp_path / "cache")) as executor:
        assert sorted(executor.submit(_mpi_rank_and_size, 7).result(timeout=120)) == [(0, 2, 7), (1, 2, 7)]
    (job,) = mock_flux.jobs()
    assert job.ntasks == 2 and job.result == "COMPLETED"


def test_pysqa_flux_adapter_submit_status_cancel(mock_flux: MockFlux, tmp_path: Path) -> None:
    from pysqa import QueueAdapter

    adapter = QueueAdapter(queue_type="flux")
    work = tmp_path / "work"
    work.mkdir()
    waiting = adapter.submit_job(command="sleep 30", working_directory=str(work), cores=1, job_name="pq",
                                 run_time_max=60)
    assert adapter.get_status_of_job(waiting) == "running"
    assert list(adapter.get_queue_status()["jobname"]) == ["pq"]
    adapter.delete_job(waiting)
    assert mock_flux.wait(waiting).result == "CANCELED"
    assert adapter.get_status_of_job(waiting) == "error"  # CA
    first = adapter.submit_job(command="echo hello", working_directory=str(work), cores=1, job_name="first")
    second = adapter.submit_job(command="echo world", working_directory=str(work), cores=1, job_name="second",
                                dependency_list=[str(first)])
    assert mock_flux.wait(second).result == "COMPLETED"
    assert adapter.get_status_of_job(first) == adapter.get_status_of_job(second) == "finished"
    assert (work / "time.out").read_text() == "world\n"  # --output=time.out, cwd = working directory
    assert sorted(os.listdir(work)) == ["error.out", "run_queue.sh", "time.out"]  # nothing of the mock's
    batch_calls = mock_flux.calls("batch")
    assert [c.argv[1] for c in batch_calls] == [str(work / "run_queue.sh")] * 3
    assert mock_flux.job(second).jobspec["attributes"]["system"]["dependencies"] == [
        {"scheme": "afterok", "value": str(first)}]


def test_executorlib_flux_cluster_executor(mock_flux: MockFlux, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("h5py", reason="executorlib's cache files need h5py (the cache extra)")
    from executorlib import FluxClusterExecutor

    monkeypatch.chdir(tmp_path)
    with FluxClusterExecutor(cache_directory=str(tmp_path / "cache"), resource_dict={"cores": 1}) as executor:
        assert [executor.submit(sum, [i, 1]).result(timeout=120) for i in range(2)] == [1, 2]
    assert [c.argv[0] for c in mock_flux.calls()].count("batch") == 2
    assert all(j.name == "cache" for j in mock_flux.jobs())  # job_name: the cache directory's name
