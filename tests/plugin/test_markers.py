"""Markers: registered (clean under --strict-markers), skip with reasons, usage error on a misspelt backend."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys

import pytest

VENV_BIN = os.path.dirname(sys.executable)


@pytest.fixture
def mpiexec_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Put the virtualenv's bin/ (where the mpich wheel installs mpiexec) on PATH for the inner runs."""
    monkeypatch.setenv("PATH", VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    if shutil.which("mpiexec") is None:
        pytest.fail("this test environment needs mpiexec (pip install 'pytest-executorlib[mpi]')")


#: The environment of most users: pytest-mpi (in this project's test extra) not loaded.
WITHOUT_PYTEST_MPI = ("-p", "no:pytest_mpi")


@pytest.fixture
def pytest_mpi_installed() -> None:
    if importlib.util.find_spec("pytest_mpi") is None:
        pytest.fail("this test needs pytest-mpi, which the test extra installs (pip install -e '.[all,test]')")


MARKED = """
    import pytest

    @pytest.mark.xlib_backends("local")
    def test_local_only():
        pass

    @pytest.mark.xlib_backends("mock-slurm", "slurm")
    def test_slurm_backends_only():
        pass

    @pytest.mark.slurm
    def test_needs_slurm():
        pass

    @pytest.mark.flux
    def test_needs_flux():
        pass

    @pytest.mark.mpi
    def test_mpi_any():
        pass

    @pytest.mark.mpi(ranks=4096)
    def test_mpi_huge():
        pass
"""


@pytest.mark.usefixtures("mpiexec_on_path")
def test_markers_skip_with_reasons_under_strict_markers(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(MARKED)
    result = run("--strict-markers", "-rs", *WITHOUT_PYTEST_MPI)  # a bare `mpi` is pytest-mpi's when it is loaded
    result.assert_outcomes(passed=2, skipped=4)
    cores = len(os.sched_getaffinity(0))
    result.stdout.fnmatch_lines_random(
        [
            "SKIPPED*:7: xlib_backends: runs on mock-slurm, slurm, not on --xlib-backend=local",
            "SKIPPED*:11: slurm: needs a slurm backend (mock-slurm, slurm), not --xlib-backend=local",
            "SKIPPED*:15: flux: needs a flux backend (mock-flux, flux), not --xlib-backend=local",
            f"SKIPPED*:23: mpi: needs 4096 ranks but only {cores} CPU cores are available*",
        ]
    )


def test_markers_are_listed(pytester: pytest.Pytester, run) -> None:
    result = run("--markers", *WITHOUT_PYTEST_MPI)
    result.stdout.fnmatch_lines_random(
        [
            "@pytest.mark.xlib_backends(*names):*",
            "@pytest.mark.mpi(ranks=1):*",
            "@pytest.mark.slurm(nodes=1):*",
            "@pytest.mark.flux:*",
        ]
    )


@pytest.mark.usefixtures("mpiexec_on_path")
def test_oversubscribe_runs_large_mpi_tests(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.mpi(ranks=4096)
        def test_mpi_huge():
            pass
        """
    )
    result = run("--xlib-mpi-oversubscribe")
    result.assert_outcomes(passed=1)


def test_mpi_without_mpi4py_is_skipped(pytester: pytest.Pytester, run) -> None:
    pytester.makeconftest(
        """
        import importlib.util

        _find_spec = importlib.util.find_spec

        def _no_mpi4py(name, *args):
            return None if name == "mpi4py" else _find_spec(name, *args)

        importlib.util.find_spec = _no_mpi4py
        """
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.mpi(ranks=1)
        def test_mpi():
            pass
        """
    )
    result = run("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED*mpi: mpi4py is not installed"])


def test_mpi_without_mpiexec_is_skipped_with_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_executorlib import markers

    monkeypatch.setattr(markers, "find_mpiexec", lambda: None)
    reason = markers._mpi_skip_reason(1, False)
    assert reason is not None and "no mpiexec" in reason and "pytest-executorlib[mpi]" in reason


def test_mpiexec_is_found_where_the_reference_executor_finds_it(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from executor.spawners.mpiexec import find_mpiexec as executor_lookup
    from pytest_executorlib import markers

    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH: only the interpreter's directory is left
    try:
        expected = executor_lookup.__wrapped__()[0]
    except ImportError:
        expected = None
    assert markers.find_mpiexec() == expected


def test_misspelt_backend_in_marker_is_a_usage_error(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.xlib_backends("locale")
        def test_typo():
            pass
        """
    )
    result = run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown backend(s) 'locale'; valid: local, mock-slurm, mock-flux, slurm, flux*"])


def test_xlib_backend_fixture_and_marker_agree(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_backend_name(xlib_backend):
            assert xlib_backend == "local"
        """
    )
    run().assert_outcomes(passed=1)


BOTH_MPI_MARKERS = """
    import pytest

    def rank():
        from mpi4py import MPI
        return MPI.COMM_WORLD.Get_rank()

    @pytest.mark.mpi(ranks=2)
    def test_ours(executor):
        assert executor.submit(rank, resource_dict={"cores": 2}).result() == [0, 1]

    @pytest.mark.mpi(2)
    def test_ours_positional():
        pass

    @pytest.mark.mpi
    def test_pytest_mpi_bare():
        pass

    @pytest.mark.mpi(min_size=2)
    def test_pytest_mpi_min_size():
        pass
"""


@pytest.mark.usefixtures("mpiexec_on_path", "pytest_mpi_installed")
def test_coexists_with_pytest_mpi(pytester: pytest.Pytester, run) -> None:
    """Next to pytest-mpi: our mpi(ranks=N) tests run, pytest-mpi keeps its own (skipped without --with-mpi)."""
    pytester.makepyfile(BOTH_MPI_MARKERS)
    result = run("--strict-markers", "-rs", "--xlib-mpi-oversubscribe")
    result.assert_outcomes(passed=2, skipped=2)
    result.stdout.fnmatch_lines_random(
        ["SKIPPED*:15: need --with-mpi option to run", "SKIPPED*:19: need --with-mpi option to run"]
    )
    listed = run("--markers").stdout.lines
    assert len([line for line in listed if line.startswith(("@pytest.mark.mpi:", "@pytest.mark.mpi("))]) == 1


@pytest.mark.usefixtures("mpiexec_on_path", "pytest_mpi_installed")
def test_pytest_mpi_with_mpi_option_leaves_our_tests_alone(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(BOTH_MPI_MARKERS.replace("@pytest.mark.mpi(2)", "@pytest.mark.mpi(ranks=2)"))
    result = run("--with-mpi", "-rs", "--xlib-mpi-oversubscribe")
    result.assert_outcomes(passed=3, skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED*Test requires 2 MPI processes, only 1 MPI processes specified*"])
