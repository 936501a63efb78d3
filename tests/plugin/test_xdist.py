"""pytest-xdist: ``-n 2`` works, workers are isolated, the controller reports and enforces for all of them."""

from __future__ import annotations

from pathlib import Path

import pytest

FOUR_TESTS = """
    import os
    import pytest

    def square(x):
        return x * x

    @pytest.mark.parametrize("x", range(4))
    def test_square(executor, xlib_cache_dir, x):
        assert executor.submit(square, x).result() == x * x
        assert list(xlib_cache_dir.rglob("*_o.h5"))
        with open("paths.txt", "a") as f:
            print(os.environ["PYTEST_XDIST_WORKER"], xlib_cache_dir, file=f)
"""


def test_two_workers_use_their_own_cache_dirs(pytester: pytest.Pytester, run, xlib_impl: str) -> None:
    pytester.makepyfile(FOUR_TESTS)
    result = run("-n", "2", "--xlib-strict-cache")
    result.assert_outcomes(passed=4)
    assert result.ret == 0
    lines = [line.split() for line in (pytester.path / "paths.txt").read_text().splitlines()]
    assert len(lines) == 4
    paths = [Path(p) for _, p in lines]
    assert len(set(paths)) == 4
    for worker, path in lines:
        assert f"popen-{worker}" in Path(path).parts, f"{path} is not in {worker}'s own base temp directory"
        assert not Path(path).exists()
    result.stdout.fnmatch_lines(
        ["*= xlib summary =*", "backend: local (*), *", "cache directories removed after their test: 4"]
    )
    if xlib_impl == "reference":
        result.stdout.fnmatch_lines(
            [
                "executor calls: 4 run in worker processes, 0 answered from the cache without running",
                "worker processes started: [1-9]*",
            ]
        )
    assert "outside the xlib fixtures" not in result.stdout.str()


def test_unmanaged_dirs_under_xdist_are_removed_and_fail_strict_runs(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import os

        def test_leak():
            os.makedirs("leaked")
            open("leaked/key_o.h5", "wb").close()

        def test_other():
            pass
        """
    )
    result = run("-n", "2", "--xlib-strict-cache")
    result.assert_outcomes(passed=2, errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert not (pytester.path / "leaked").exists()
    result.stdout.fnmatch_lines(
        [
            "cache directories created outside the xlib fixtures: 1 -- failing the run (--xlib-strict-cache)",
            f"  *: {pytester.path / 'leaked'}",
        ]
    )


def test_worker_leaves_shared_dirs_to_the_controller(
    pytester: pytest.Pytester, run, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker reports a directory outside its base temp dir; the controller removes and reports it."""
    outside = tmp_path_factory.mktemp("shared")
    monkeypatch.setenv("SHARED", str(outside))
    pytester.makepyfile(
        """
        import os
        from executor import telemetry

        def test_shared_dir():
            path = os.path.join(os.environ["SHARED"], "cache")
            os.makedirs(path)
            open(os.path.join(path, "k_o.h5"), "wb").close()
            telemetry.record_cache_directory(path)

        def test_other():
            pass
        """
    )
    result = run("-n", "2", "--xlib-impl=reference")
    result.assert_outcomes(passed=2)
    assert result.ret == 0
    assert not (outside / "cache").exists()
    result.stdout.fnmatch_lines(
        [
            "cache directories removed after their test: 1",
            "cache directories created outside the xlib fixtures: 1",
            f"  *::test_shared_dir: {outside / 'cache'}",
        ]
    )


def test_xdist_controller_shows_the_summary_when_a_worker_used_the_plugin(pytester: pytest.Pytester, run) -> None:
    """No setting given: no header; the controller learns from the workers that a test used a fixture."""
    pytester.makepyfile(
        """
        def test_uses_fixture(xlib_backend):
            assert xlib_backend == "local"

        def test_plain():
            pass
        """
    )
    result = run("-n", "2", impl=False)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*= xlib summary =*", "backend: local (default), *"])
    assert "xlib: backend=" not in result.stdout.str()
