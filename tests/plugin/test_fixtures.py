"""The public fixtures, in real pytest runs of the selected implementation."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest


def _paths(pytester: pytest.Pytester, name: str = "paths.txt") -> list[Path]:
    return [Path(line) for line in (pytester.path / name).read_text().split()]


def test_executor_runs_caches_and_its_directory_is_removed(pytester: pytest.Pytester, run, xlib_impl: str) -> None:
    pytester.makepyfile(
        """
        def add(a, b):
            return a + b

        def test_add(executor, xlib_cache_dir, xlib_backend):
            assert xlib_backend == "local"
            assert executor.submit(add, 1, 2).result() == 3
            assert [p.name for p in xlib_cache_dir.rglob("*_o.h5")], "no cache file written"
            with open("paths.txt", "a") as f:
                print(xlib_cache_dir, file=f)
        """
    )
    result = run()
    result.assert_outcomes(passed=1)
    [cache_dir] = _paths(pytester)
    assert not cache_dir.exists()
    result.stdout.fnmatch_lines(
        ["*= xlib summary =*", "backend: local (*), implementation: *", "cache directories removed after their test: 1"]
    )
    if xlib_impl == "reference":
        result.stdout.fnmatch_lines(
            [
                "executor calls: 1 run in worker processes, 0 answered from the cache without running",
                "worker processes started: [1-9]*",
            ]
        )


def test_keep_cache_keeps_directories_and_lists_them(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        def test_one(executor, xlib_cache_dir):
            assert executor.submit(abs, -4).result() == 4
            with open("paths.txt", "a") as f:
                print(xlib_cache_dir, file=f)
        """
    )
    result = run("--xlib-keep-cache")
    result.assert_outcomes(passed=1)
    [cache_dir] = _paths(pytester)
    assert list(cache_dir.rglob("*_o.h5"))
    result.stdout.fnmatch_lines(
        [
            "cache directories removed after their test: 0",
            "cache directories kept (--xlib-keep-cache): 1",
            f"  {cache_dir}",
        ]
    )


def test_unfinished_futures_fail_the_test_naming_them(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import time

        def nap(seconds):
            time.sleep(seconds)
            return seconds

        def test_forgets_to_wait(executor):
            executor.submit(nap, 0.5)
            executor.submit(nap, 0.75)

        def test_waits(executor):
            assert executor.submit(nap, 0.01).result() == 0.01

        def test_fails_anyway(executor):
            executor.submit(nap, 0.5)
            assert False, "own failure"
        """
    )
    result = run()
    result.assert_outcomes(passed=2, failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_forgets_to_wait*",
            "xlib: the test left 2 unfinished future(s) of the `executor` fixture*",
            "    nap(0.5) [[]*[]]",
            "    nap(0.75) [[]*[]]",
        ]
    )
    assert "ERROR at teardown of test_fails_anyway" not in result.stdout.str()


def test_executor_factory_passes_kwargs_and_shuts_all_down(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import pytest

        BUILT = []

        def worker_id(executorlib_worker_id=None):
            return executorlib_worker_id

        def test_build(executor_factory, xlib_cache_dir, tmp_path):
            block = executor_factory(max_workers=2, block_allocation=True)
            other = executor_factory(cache_directory=str(tmp_path / "explicit"))
            BUILT.extend([block, other])
            assert block.max_workers == 2
            assert block.submit(worker_id).result() in (0, 1)
            assert other.submit(abs, -1).result() == 1
            assert list((tmp_path / "explicit").rglob("*_o.h5"))
            assert list(xlib_cache_dir.rglob("*_o.h5"))

        def test_all_were_shut_down():
            assert len(BUILT) == 2
            for built in BUILT:
                with pytest.raises(RuntimeError, match="cannot schedule new futures after shutdown"):
                    built.submit(abs, 1)
        """
    )
    result = run()
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["cache directories removed after their test: 2"])


def test_resource_dict_cache_directory_is_managed_and_removed(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import os

        def test_resource_dict(executor):
            future = executor.submit(abs, -2, resource_dict={"cache_directory": "via_resource_dict"})
            assert future.result() == 2
            assert os.path.isdir("via_resource_dict")
        """
    )
    result = run("--xlib-strict-cache")
    result.assert_outcomes(passed=1)
    assert result.ret == 0
    assert not (pytester.path / "via_resource_dict").exists()
    result.stdout.fnmatch_lines(["cache directories removed after their test: 2"])
    assert "outside the xlib fixtures" not in result.stdout.str()


def test_docs_worked_example(pytester: pytest.Pytester, run, monkeypatch: pytest.MonkeyPatch, xlib_impl: str) -> None:
    """The example of docs/plugin.md, with the downstream package's functions written inline."""
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    pytester.makepyfile(
        """
        import pytest

        def analyse(values):
            return sum(values) if isinstance(values, list) else values

        def load(name):
            return [1, 2, 3]

        def rank_sum(x):
            from mpi4py import MPI
            return x + MPI.COMM_WORLD.Get_rank()

        def test_one_call(executor):
            assert executor.submit(analyse, [1, 2, 3]).result() == 6

        def test_dependencies(executor):
            data = executor.submit(load, "input.csv")
            total = executor.submit(analyse, data)
            assert total.result() == 6

        def test_cache_hit(executor, xlib_cache_dir):
            first = executor.submit(analyse, [1, 2]).result()
            assert list(xlib_cache_dir.glob("*_o.h5"))
            assert executor.submit(analyse, [1, 2]).result() == first

        def test_block_allocation(executor_factory):
            pool = executor_factory(max_workers=2, block_allocation=True)
            assert sorted(pool.map(analyse, [[1], [2], [3]])) == [1, 2, 3]

        @pytest.mark.mpi(ranks=2)
        def test_two_ranks(executor):
            assert executor.submit(rank_sum, 10, resource_dict={"cores": 2}).result() == [10, 11]

        @pytest.mark.xlib_backends("mock-slurm", "slurm")
        def test_partition_argument(executor_factory):
            pass

        @pytest.mark.slurm
        def test_needs_any_slurm(xlib_backend):
            assert xlib_backend in ("mock-slurm", "slurm")
        """
    )
    result = run("--strict-markers", "--xlib-strict-cache", "-rs")
    result.assert_outcomes(passed=5, skipped=2)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["cache directories removed after their test: 5"])
    if xlib_impl == "reference":  # 1 + 2 + 1 (then a cache hit) + 3 + 1
        result.stdout.fnmatch_lines(
            ["executor calls: 8 run in worker processes, 1 answered from the cache without running"]
        )


def test_executor_fixtures_work_without_the_cache_extra(pytester: pytest.Pytester, run) -> None:
    """``pip install pytest-executorlib`` without ``[cache]``: the fixtures build executors without a cache."""
    pytester.makeconftest("import sys\nsys.modules['h5py'] = None  # `import h5py` fails, find_spec says None\n")
    pytester.makepyfile(
        """
        def test_executor(executor, xlib_cache_dir):
            assert executor.submit(sum, [1, 2]).result() == 3
            assert not list(xlib_cache_dir.iterdir())

        def test_factory(executor_factory):
            assert executor_factory(max_workers=1).submit(abs, -2).result() == 2
        """
    )
    result = run()
    result.assert_outcomes(passed=2)
