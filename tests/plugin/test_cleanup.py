"""Automatic cache cleanup: what is removed, what is kept, what is reported, what fails the run.

The inner tests mostly write cache-shaped directories (``*_o.h5`` files) themselves: the cleanup looks at
the file system and at ``executor.telemetry``, not at who wrote the files.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

LEAKS = """
    import os

    def test_leaks_a_cache_dir():
        os.makedirs("leaked/sub")
        open("leaked/sub/key_o.h5", "wb").close()

    def test_leaks_default_cache():
        os.makedirs("executorlib_cache")

    def test_writes_data_not_cache():
        os.makedirs("results")
        open("results/table.csv", "w").close()
"""


def test_cache_dirs_outside_fixtures_are_removed_and_reported(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(LEAKS)
    result = run()
    result.assert_outcomes(passed=3)
    assert result.ret == 0
    assert not (pytester.path / "leaked").exists()
    assert not (pytester.path / "executorlib_cache").exists()
    assert (pytester.path / "results" / "table.csv").exists(), "a non-cache directory must be left alone"
    result.stdout.fnmatch_lines(
        [
            "cache directories removed after their test: 2",
            "cache directories created outside the xlib fixtures: 2",
            f"  test_cache_dirs_*.py::test_leaks_a_cache_dir: {pytester.path / 'leaked'}",
            "  *::test_leaks_default_cache: */executorlib_cache",
        ]
    )


def test_strict_cache_fails_the_run(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(LEAKS)
    result = run("--xlib-strict-cache")
    result.assert_outcomes(passed=3, errors=1)  # the final line says so, not a green "3 passed" with exit 1
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of the test session (--xlib-strict-cache)*",
            "--xlib-strict-cache: 2 cache directories were created outside the xlib fixtures (listed in *)",
            "cache directories created outside the xlib fixtures: 2 -- failing the run (--xlib-strict-cache)",
            "ERROR xlib (--xlib-strict-cache) - *",
            "*= 3 passed, 1 error in *",
        ]
    )


@pytest.mark.parametrize(("how", "named"), [("ini", "xlib_strict_cache = true (ini file)"), ("env", "XLIB_STRICT_CACHE=1")])
def test_strict_cache_failure_names_the_setting_where_it_was_given(
    pytester: pytest.Pytester, run, monkeypatch: pytest.MonkeyPatch, how: str, named: str
) -> None:
    pytester.makepyfile(LEAKS)
    if how == "ini":
        pytester.makeini("[pytest]\nxlib_strict_cache = true\n")
    else:
        monkeypatch.setenv("XLIB_STRICT_CACHE", "1")
    result = run()
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [f"{named}: 2 cache directories were created outside the xlib fixtures*", f"*failing the run ({named})"]
    )


def test_keep_cache_keeps_unmanaged_dirs_too(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(LEAKS)
    result = run("--xlib-keep-cache")
    assert result.ret == 0
    assert (pytester.path / "leaked" / "sub" / "key_o.h5").exists()
    result.stdout.fnmatch_lines(["cache directories kept (--xlib-keep-cache): 2"])


def test_existing_default_cache_keeps_old_files_and_loses_new_ones(pytester: pytest.Pytester, run) -> None:
    old = pytester.path / "executorlib_cache" / "old_o.h5"
    old.parent.mkdir()
    old.write_bytes(b"")
    past = time.time() - 3600
    os.utime(old, (past, past))
    pytester.makepyfile(
        """
        def test_adds_to_existing_cache():
            open("executorlib_cache/new_o.h5", "wb").close()

        def test_leaves_it_alone():
            pass
        """
    )
    result = run()
    result.assert_outcomes(passed=2)
    assert old.exists()
    assert not (pytester.path / "executorlib_cache" / "new_o.h5").exists()
    result.stdout.fnmatch_lines(["*::test_adds_to_existing_cache: */executorlib_cache"])
    assert "test_leaves_it_alone:" not in result.stdout.str()


def test_telemetry_directories_are_removed_but_old_content_is_kept(
    pytester: pytest.Pytester, run, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--xlib-impl=reference: directories outside the cwd are found through executor.telemetry."""
    outside = tmp_path_factory.mktemp("outside")
    existing = outside / "existing"
    existing.mkdir()
    (existing / "old_o.h5").write_bytes(b"")
    past = time.time() - 3600
    os.utime(existing / "old_o.h5", (past, past))
    monkeypatch.setenv("OUTSIDE", str(outside))
    pytester.makepyfile(
        """
        import os
        from executor import telemetry

        OUTSIDE = os.environ["OUTSIDE"]

        def test_new_dir():
            path = os.path.join(OUTSIDE, "new", "deep")
            os.makedirs(path)
            open(os.path.join(path, "k_o.h5"), "wb").close()
            telemetry.record_cache_directory(os.path.join(OUTSIDE, "new"))

        def test_existing_dir():
            open(os.path.join(OUTSIDE, "existing", "fresh_o.h5"), "wb").close()
            telemetry.record_cache_directory(os.path.join(OUTSIDE, "existing"))

        def test_cwd_as_cache_dir():
            open("top_o.h5", "wb").close()
            telemetry.record_cache_directory(".")
        """
    )
    result = run("--xlib-impl=reference")
    result.assert_outcomes(passed=3)
    assert not (outside / "new").exists()
    assert (existing / "old_o.h5").exists() and not (existing / "fresh_o.h5").exists()
    assert pytester.path.is_dir() and not (pytester.path / "top_o.h5").exists()
    result.stdout.fnmatch_lines_random(
        [
            f"  *::test_new_dir: {outside / 'new'}",
            f"  *::test_existing_dir: {existing}",
            f"  *::test_cwd_as_cache_dir: {pytester.path}",
        ]
    )


def test_fixture_dirs_are_removed_even_without_an_executor(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        def test_dir(xlib_cache_dir):
            (xlib_cache_dir / "a_o.h5").write_bytes(b"")
            with open("paths.txt", "a") as f:
                print(xlib_cache_dir, file=f)
        """
    )
    result = run("--xlib-strict-cache")
    assert result.ret == 0
    [path] = (pytester.path / "paths.txt").read_text().split()
    assert not Path(path).exists()
    result.stdout.fnmatch_lines(["cache directories removed after their test: 1"])
