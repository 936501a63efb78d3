"""Settings: command line > environment variable > ini > default, shown in the header; usage errors."""

from __future__ import annotations

import pytest

# The in-process run below imports pyzmq (through executor.api at the end of the inner session), and pytester
# drops every module first imported during a test from sys.modules.  Re-imported later, pyzmq's Python modules
# define new exception classes while its compiled core keeps raising the old ones: `except zmq.Again` misses and
# the next executor of this process (e.g. in tests/cli/test_doctor.py) loses its scheduler thread.  Imported at
# collection, pyzmq is part of pytester's snapshot and stays.
import zmq  # noqa: F401

from pytest_executorlib.backends import BACKENDS

PASSING = "def test_ok():\n    pass\n"


def test_header_shows_defaults_and_their_source_with_verbose(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(PASSING)
    result = run("-v", impl=False)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "xlib: backend=local (default), impl=reference (default) [[]executor *[]]",
            "xlib: keep-cache=no (default), strict-cache=no (default), worker-coverage=yes (default), "
            "mpi-oversubscribe=no (default), graph=off (default)",
        ]
    )


def test_command_line_beats_env_beats_ini(pytester: pytest.Pytester, run, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini("[pytest]\nxlib_impl = no-such-impl\nxlib_keep_cache = true\nxlib_strict_cache = true\n")
    pytester.makepyfile(PASSING)
    monkeypatch.setenv("XLIB_IMPL", "executorlib")
    monkeypatch.setenv("XLIB_STRICT_CACHE", "0")

    from_env = run(impl=False)
    from_env.assert_outcomes(passed=1)
    from_env.stdout.fnmatch_lines(
        [
            "xlib: backend=local (default), impl=executorlib (env XLIB_IMPL) [[]executorlib *[]]",
            "xlib: keep-cache=yes (ini xlib_keep_cache), strict-cache=no (env XLIB_STRICT_CACHE), *",
        ]
    )

    from_cli = run("--xlib-impl=reference", "--xlib-backend=local", "--xlib-no-cov")
    from_cli.assert_outcomes(passed=1)
    from_cli.stdout.fnmatch_lines(
        [
            "xlib: backend=local (command line), impl=reference (command line) [[]executor *[]]",
            "xlib: keep-cache=yes (ini xlib_keep_cache), *, worker-coverage=no (command line), *",
        ]
    )


def test_quiet_in_a_project_that_does_not_use_it(pytester: pytest.Pytester, run) -> None:
    """Installed in a venv, the plugin adds nothing to an unrelated project's output."""
    pytester.makepyfile(PASSING)
    for args in ((), ("-q",)):
        result = run(*args, impl=False)
        result.assert_outcomes(passed=1)
        assert "xlib" not in result.stdout.str(), result.stdout.str()


def test_a_test_using_a_fixture_or_marker_brings_the_summary(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        test_fixture="def test_backend(xlib_backend):\n    assert xlib_backend == 'local'\n",
        test_marker="import pytest\n\n@pytest.mark.xlib_backends('local')\ndef test_marked():\n    pass\n",
    )
    for name in ("test_fixture.py", "test_marker.py"):
        result = run(name, impl=False)
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines(
            ["*= xlib summary =*", "backend: local (default), implementation: reference (default)*"]
        )
        assert "xlib: backend=" not in result.stdout.str()  # no header: nothing was set before the run


@pytest.mark.parametrize(
    ("how", "header"),
    [
        ("env", "xlib: backend=local (env XLIB_BACKEND), *"),
        ("ini", "xlib: backend=local (ini xlib_backend), *"),
        ("cli", "xlib: backend=local (command line), *"),
    ],
)
def test_any_xlib_setting_brings_header_and_summary(
    pytester: pytest.Pytester, run, monkeypatch: pytest.MonkeyPatch, how: str, header: str
) -> None:
    pytester.makepyfile(PASSING)
    args: tuple[str, ...] = ()
    if how == "env":
        monkeypatch.setenv("XLIB_BACKEND", "local")
    elif how == "ini":
        pytester.makeini("[pytest]\nxlib_backend = local\n")
    else:
        args = ("--xlib-backend=local",)
    result = run(*args, impl=False)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([header, "*= xlib summary =*"])


@pytest.mark.parametrize(
    ("how", "named"),
    [
        ("env", "XLIB_BACKEND=bogus"),
        ("ini", "xlib_backend = bogus (ini file)"),
        ("cli", "--xlib-backend=bogus"),
    ],
)
def test_a_bad_value_is_reported_where_it_was_given(
    pytester: pytest.Pytester, run, monkeypatch: pytest.MonkeyPatch, how: str, named: str
) -> None:
    pytester.makepyfile(PASSING)
    args: tuple[str, ...] = ()
    if how == "env":
        monkeypatch.setenv("XLIB_BACKEND", "bogus")
    elif how == "ini":
        pytester.makeini("[pytest]\nxlib_backend = bogus\n")
    else:
        args = ("--xlib-backend=bogus",)
    result = run(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {named}: unknown backend 'bogus'; valid backends: *"])
    if how != "cli":
        assert "--xlib-backend" not in result.stderr.str()


def test_unknown_backend_is_a_usage_error_listing_valid_ones(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(PASSING)
    result = run("--xlib-backend=slurmm")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*unknown backend 'slurmm'; valid backends: {', '.join(BACKENDS)}*"])
    assert "local, mock-slurm, mock-flux, slurm, flux" in result.stderr.str()


def test_unknown_implementation_is_a_usage_error(
    pytester: pytest.Pytester, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(PASSING)
    monkeypatch.setenv("XLIB_IMPL", "dask")
    result = run(impl=False)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*XLIB_IMPL=dask: unknown implementation 'dask'; valid: reference, executorlib*"])


def test_mock_flux_backend_runs_the_session_inside_a_mock_instance(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import os, shutil, subprocess

        def test_flux_is_the_mock_instance():
            import flux, flux.job
            assert os.environ["FLUX_URI"].startswith("local://")
            assert "mocks" in flux.__file__
            handle = flux.Flux()
            jobid = flux.job.submit(handle, flux.job.JobspecV1.from_command(["true"]))
            assert flux.job.result(handle, jobid).result == "COMPLETED"
            out = subprocess.run(["flux", "jobs", "-a", "--no-header"], capture_output=True, text=True, check=True)
            assert out.stdout.split()[0] == str(jobid)
        """
    )
    result = run("--xlib-backend=mock-flux")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(["xlib: backend=mock-flux (command line)*"])


def test_mock_slurm_backend_puts_the_mock_on_path(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import os, shutil

        def test_srun_is_the_mock():
            assert shutil.which("srun") == os.path.join(os.environ["XLIB_MOCK_SLURM_ROOT"], "bin", "srun")
        """
    )
    result = run("--xlib-backend=mock-slurm")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["xlib: backend=mock-slurm (command line)*"])


def test_invalid_boolean_in_env_is_a_usage_error(
    pytester: pytest.Pytester, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(PASSING)
    monkeypatch.setenv("XLIB_KEEP_CACHE", "sometimes")
    result = run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*env XLIB_KEEP_CACHE: expected a boolean*'sometimes'*"])


def test_options_are_in_one_help_group(pytester: pytest.Pytester, run) -> None:
    result = run("--help", impl=False)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "executorlib executors (pytest-executorlib):",
            "*--xlib-backend=NAME*",
            "*--xlib-impl=reference|executorlib*",
            "*--xlib-keep-cache*",
            "*--xlib-strict-cache*",
            "*--xlib-no-cov*",
            "*--xlib-mpi-oversubscribe*",
            "*--xlib-graph=DIR*",
        ]
    )
    result.stdout.fnmatch_lines(["*xlib_backend (string):*", "*xlib_keep_cache (bool):*"])


def test_no_cov_sets_worker_coverage_env_for_the_session_only(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process run, so the environment of this process can be checked after the inner session."""
    monkeypatch.delenv("XLIB_WORKER_COVERAGE", raising=False)
    pytester.makepyfile(
        """
        import os
        def test_env():
            assert os.environ["XLIB_WORKER_COVERAGE"] == "0"
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--xlib-no-cov")
    result.assert_outcomes(passed=1)
    assert "XLIB_WORKER_COVERAGE" not in __import__("os").environ

    without = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    without.assert_outcomes(failed=1)


def test_pyproject_toml_settings(pytester: pytest.Pytester, run) -> None:
    pytester.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        xlib_backend = "local"
        xlib_strict_cache = true
        xlib_worker_coverage = false
        """
    )
    pytester.makepyfile(PASSING)
    result = run()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "xlib: backend=local (ini xlib_backend), *",
            "xlib: keep-cache=no (default), strict-cache=yes (ini xlib_strict_cache), "
            "worker-coverage=no (ini xlib_worker_coverage), *",
        ]
    )
