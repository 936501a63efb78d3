"""A downstream test suite: every line of ``pkg.work`` runs only in executor workers."""

import os
import warnings

import pytest

from executor import SingleNodeExecutor
from executor.coverage import WorkerCoverageWarning
from pkg import work


def test_per_call():
    with SingleNodeExecutor(max_workers=1) as exe:
        value, pid = exe.submit(work.per_call, 2).result()
    assert value == 4
    with open("worker_pids.txt", "a") as pids:
        pids.write(f"{pid}\n")


def test_block():
    with SingleNodeExecutor(max_workers=1, block_allocation=True) as exe:
        assert exe.submit(work.in_block, 1).result() == 2


def test_other_cwd(tmp_path):
    with SingleNodeExecutor(max_workers=1, block_allocation=True, resource_dict={"cwd": str(tmp_path)}) as exe:
        assert exe.submit(work.where).result() == str(tmp_path)
    assert not list(tmp_path.glob(".coverage*"))  # data files go next to the parent's


def test_stopped_by_shutdown():
    exe = SingleNodeExecutor(max_workers=1, block_allocation=True)
    assert exe.submit(work.before_stop).result() > 0
    exe.shutdown(wait=True)


def test_sigterm():
    with SingleNodeExecutor(max_workers=1) as exe:
        with pytest.raises(Exception):
            exe.submit(work.sigterm_self).result()


def test_os_exit():
    with SingleNodeExecutor(max_workers=1) as exe:
        with pytest.raises(Exception):
            exe.submit(work.exit_hard).result()


def test_task_that_forks():
    with SingleNodeExecutor(max_workers=1) as exe:
        assert exe.submit(work.forks).result() == 0


def test_task_uses_multiprocessing():
    with SingleNodeExecutor(max_workers=1) as exe:
        assert exe.submit(work.uses_multiprocessing).result() == [9]


def test_branch():
    with SingleNodeExecutor(max_workers=1) as exe:
        assert exe.submit(work.branchy, True).result() == "yes"


def test_task_starts_python():
    with SingleNodeExecutor(max_workers=1) as exe:
        assert exe.submit(work.spawns_python).result() == 0


def test_broken_coverage_process_start(monkeypatch, tmp_path):
    # coverage's own start-up would fail on this; our template never runs it, workers still measure
    monkeypatch.setenv("COVERAGE_PROCESS_START", str(tmp_path / "missing.toml"))
    with SingleNodeExecutor(max_workers=1) as exe:
        assert exe.submit(work.broken_process_start).result() == 1


def test_opt_out_keyword():
    with SingleNodeExecutor(max_workers=1, worker_coverage=False) as exe:
        assert exe.submit(work.opted_out_keyword).result() == 1


def test_opt_out_environment(monkeypatch):
    monkeypatch.setenv("XLIB_WORKER_COVERAGE", "0")
    with SingleNodeExecutor(max_workers=1) as exe:
        assert exe.submit(work.opted_out_env).result() == 1


def test_unusable_config_warns_once(monkeypatch):
    import coverage

    cov = coverage.Coverage.current()
    assert cov is not None, "the sample must run measured"
    monkeypatch.setattr(cov.config, "plugins", ["no_such_coverage_plugin_for_xlib"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with SingleNodeExecutor(max_workers=1) as exe:
            assert exe.submit(work.unusable_config).result() == 1
            assert exe.submit(work.unusable_config).result() == 1
        with SingleNodeExecutor(max_workers=1) as exe:
            assert exe.submit(work.unusable_config).result() == 1
    ours = [w for w in caught if issubclass(w.category, WorkerCoverageWarning)]
    assert len(ours) == 1, [str(w.message) for w in caught]
    assert "no_such_coverage_plugin_for_xlib" in str(ours[0].message)


def test_config_failing_in_each_worker_warns_once(monkeypatch):
    """The template accepts the configuration, but coverage cannot start in a worker: one warning, later
    workers run unmeasured, every call works."""
    import coverage

    cov = coverage.Coverage.current()
    monkeypatch.setattr(cov.config, "dynamic_context", "no_such_context_kind")  # fails in Coverage.start()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with SingleNodeExecutor(max_workers=2) as exe:
            assert [f.result() for f in [exe.submit(work.failing_start) for _ in range(4)]] == [1] * 4
    ours = [w for w in caught if issubclass(w.category, WorkerCoverageWarning)]
    assert len(ours) == 1, [str(w.message) for w in caught]
    assert "no_such_context_kind" in str(ours[0].message)
