"""After a failed, timed-out or interrupted test the fixtures stop its running calls instead of waiting for them.

Each inner call records its worker's pid and the test's cache directory, then sleeps far longer than the inner
run may take: a teardown that waits for it makes the inner run exceed its own subprocess timeout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "executor"))
import xprocs  # noqa: E402

pytestmark = pytest.mark.timeout(120)

CALLS = """
import os, time

def record_and_sleep(path):
    with open(path, "a") as f:
        print(os.getpid(), file=f)
    time.sleep(600)

def record(path, line):
    with open(path, "a") as f:
        print(line, file=f)
"""


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def _nothing_left(pytester: pytest.Pytester) -> None:
    pids = [int(p) for p in _lines(pytester.path / "pids.txt")]
    assert pids, "the inner calls did not start"
    assert xprocs.eventually(lambda: not any(xprocs.alive(p) for p in pids), timeout=10), (
        f"worker processes left: {[p for p in pids if xprocs.alive(p)]}"
    )
    for directory in _lines(pytester.path / "caches.txt"):
        assert not Path(directory).exists(), f"cache directory left: {directory}"


@pytest.mark.parametrize("how", ["timeout", "assertion"])
def test_failed_test_stops_its_running_calls_and_the_next_test_runs(
    pytester: pytest.Pytester, run, how: str, xlib_impl: str
) -> None:
    if how == "timeout":
        body = "executor.submit(record_and_sleep, PIDS).result()"
        block_body = "ex.submit(record_and_sleep, PIDS).result()"
    else:  # the call runs on while the test fails for its own reason
        body = "executor.submit(record_and_sleep, PIDS); wait_started(1); assert False, 'own failure'"
        block_body = "ex.submit(record_and_sleep, PIDS); wait_started(2); assert False, 'own failure'"
    pytester.makepyfile(
        CALLS
        + f"""
import pytest
PIDS = os.path.abspath("pids.txt")

def wait_started(n):
    while len(open(PIDS).read().split()) < n if os.path.exists(PIDS) else True:
        time.sleep(0.05)

@pytest.mark.timeout(5)
def test_per_call(executor, xlib_cache_dir):
    record(os.path.abspath("caches.txt"), xlib_cache_dir)
    {body}

@pytest.mark.timeout(5)
def test_block(executor_factory, xlib_cache_dir):
    record(os.path.abspath("caches.txt"), xlib_cache_dir)
    ex = executor_factory(block_allocation=True, max_workers=1)
    {block_body}

def test_next(executor):
    assert executor.submit(abs, -1).result() == 1
"""
    )
    result = run("-p", "timeout", timeout=60)
    result.assert_outcomes(failed=2, passed=1)
    # executorlib cannot say which call a worker runs: its worker processes are listed instead
    what = "record_and_sleep() [[]running in worker process *[]]" if xlib_impl == "reference" else "worker process *"
    result.stdout.fnmatch_lines(
        [
            "running calls stopped after a failed or interrupted test: 2",
            f"  test_*::test_per_call: {what}",
            f"  test_*::test_block: {what}",
        ]
    )
    _nothing_left(pytester)


def test_a_passing_test_still_waits_for_its_calls(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import os, time

        def nap_then_record(path):
            open(path + ".started", "w").close()
            time.sleep(0.5)
            open(path, "w").write("done")

        def test_leaves_a_call_running(executor_factory):
            executor_factory().submit(nap_then_record, os.path.abspath("done.txt"))
            while not os.path.exists("done.txt.started"):
                time.sleep(0.01)
        """
    )
    result = run()
    result.assert_outcomes(passed=1)
    assert (pytester.path / "done.txt").read_text() == "done", "teardown must wait for a passing test's calls"
    assert "running calls stopped" not in result.stdout.str()


def test_thread_timeout_method_ends_the_session_and_leaves_no_worker(pytester: pytest.Pytester, run, xlib_impl: str) -> None:
    """pytest-timeout's thread method ends pytest with os._exit: no teardown runs, the fork server stops its
    workers when its parent is gone."""
    if xlib_impl != "reference":
        pytest.skip("executorlib's worker processes outlive an os._exit of the process that started them")
    pytester.makepyfile(
        CALLS
        + """
PIDS = os.path.abspath("pids.txt")

def test_hangs(executor):
    executor.submit(record_and_sleep, PIDS).result()
"""
    )
    result = run("-p", "timeout", "--timeout=3", "--timeout-method=thread", timeout=60)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*Timeout*"])
    pids = [int(p) for p in _lines(pytester.path / "pids.txt")]
    assert pids
    assert xprocs.eventually(lambda: not any(xprocs.alive(p) for p in pids), timeout=10)


def test_sigint_to_pytest_alone_exits_and_cleans_up(pytester: pytest.Pytester, xlib_impl: str) -> None:
    if xlib_impl != "reference":
        pytest.skip("checks the reference executor's report of the calls it stopped")
    pytester.makepyfile(
        CALLS
        + """
PIDS = os.path.abspath("pids.txt")

def test_waits(executor, xlib_cache_dir):
    record(os.path.abspath("caches.txt"), xlib_cache_dir)
    executor.submit(record_and_sleep, PIDS).result()

def test_block(executor_factory):
    raise AssertionError("not reached: the session was interrupted")
"""
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("XLIB_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:hypothesispytest"],
        cwd=pytester.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert xprocs.eventually(lambda: bool(_lines(pytester.path / "pids.txt")), timeout=30), "the call did not start"
        process.send_signal(signal.SIGINT)  # to pytest alone, not to its process group
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    assert "KeyboardInterrupt" in output
    assert "running calls stopped after a failed or interrupted test: 1" in output, output
    assert "(interrupted): record_and_sleep() [running in worker process" in output
    _nothing_left(pytester)


def test_filterwarnings_error_fails_only_the_affected_call(pytester: pytest.Pytester, run, xlib_impl: str) -> None:
    """pytest's ``filterwarnings = error``: a cache file that cannot be written fails that call with the warning;
    the executor (its scheduler thread) keeps working for the next call and the next test."""
    if xlib_impl != "reference":
        pytest.skip("checks the reference executor's warning")
    pytester.makeini("[pytest]\nfilterwarnings =\n    error\n")
    pytester.makepyfile(
        """
        import pytest

        def test_unwritable_cache(executor_factory, tmp_path):
            blocker = tmp_path / "a-file"
            blocker.write_text("")
            ex = executor_factory(cache_directory=str(blocker / "cache"))
            with pytest.raises(RuntimeWarning, match=r"could not write the cache file of abs\\(\\)"):
                ex.submit(abs, -1).result(timeout=30)
            assert ex.submit(abs, -2, resource_dict={"cache_directory": str(tmp_path / "ok")}).result(timeout=30) == 2

        def test_next(executor):
            assert executor.submit(abs, -3).result(timeout=30) == 3
        """
    )
    run(timeout=60).assert_outcomes(passed=2)
