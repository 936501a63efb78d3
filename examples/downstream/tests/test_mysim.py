"""The example downstream test suite: the same tests run on every backend of pytest-executorlib.

    pytest --xlib-backend=local --cov=mysim        # on a laptop or in CI
"""

from __future__ import annotations

import pytest

import mysim


def test_energy_runs_in_a_worker(executor):
    positions = mysim.lattice(2)
    future = executor.submit(mysim.total_energy, positions)
    assert future.result() == pytest.approx(mysim.total_energy(positions))


def test_errors_come_back_with_their_type(executor):
    with pytest.raises(ValueError, match="distance must be positive"):
        executor.submit(mysim.pair_energy, 0.0).result()


def test_results_feed_later_calls(executor):
    positions = executor.submit(mysim.lattice, 2)  # a Future used as an input below
    energy = executor.submit(mysim.total_energy, positions)
    assert energy.result() == pytest.approx(mysim.total_energy(mysim.lattice(2)))


def test_a_sweep_with_map(executor):
    distances = [0.9, 1.0, 1.12, 1.5, 2.5]
    assert list(executor.map(mysim.pair_energy, distances)) == pytest.approx([mysim.pair_energy(r) for r in distances])


def test_threads_per_core_reaches_the_worker(executor):
    future = executor.submit(mysim.threads_available, resource_dict={"threads_per_core": 2})
    assert future.result() == 2


def test_persistent_workers(executor_factory):
    with executor_factory(max_workers=2, block_allocation=True) as pool:
        energies = [pool.submit(mysim.pair_energy, 1.0 + i / 10) for i in range(20)]
        assert [f.result() for f in energies] == pytest.approx([mysim.pair_energy(1.0 + i / 10) for i in range(20)])


def test_results_are_cached(executor_factory, xlib_cache_dir):
    with executor_factory(cache_directory=str(xlib_cache_dir)) as pool:
        first = pool.submit(mysim.total_energy, mysim.lattice(2)).result()
    assert any(xlib_cache_dir.rglob("*_o.h5"))
    with executor_factory(cache_directory=str(xlib_cache_dir)) as pool:
        assert pool.submit(mysim.total_energy, mysim.lattice(2)).result() == first


@pytest.mark.mpi(ranks=2)
def test_mpi_ranks_share_the_work(executor):
    positions = mysim.lattice(2)
    per_rank = executor.submit(mysim.distributed_energy, positions, resource_dict={"cores": 2}).result()
    assert per_rank == pytest.approx([mysim.total_energy(positions)] * 2)
