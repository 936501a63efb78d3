"""The backend table: a backend is one entry; its needs are checked before any test runs."""

from __future__ import annotations

import os
import stat

import pytest


def test_a_new_backend_is_one_table_entry(pytester: pytest.Pytester, run) -> None:
    pytester.makeconftest(
        """
        from pytest_executorlib.backends import BACKENDS, Backend

        BACKENDS["toy"] = Backend("toy", "SingleNodeExecutor", "local")
        """
    )
    pytester.makepyfile(
        """
        import pytest

        def test_runs_on_toy(executor, xlib_backend):
            assert xlib_backend == "toy"
            assert executor.submit(pow, 2, 5).result() == 32

        @pytest.mark.xlib_backends("local")
        def test_local_only():
            pass
        """
    )
    result = run("--xlib-backend=toy", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["xlib: backend=toy (command line)*", "backend: toy (command line), implementation: *"])


def test_slurm_backend_needs_srun_on_path(
    pytester: pytest.Pytester, run, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.slurm
        def test_slurm(xlib_backend):
            assert xlib_backend == "slurm"

        @pytest.mark.flux
        def test_flux():
            pass
        """
    )
    bin_dir = tmp_path_factory.mktemp("bin")
    monkeypatch.setenv("PATH", str(bin_dir))
    missing = run("--xlib-backend=slurm")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR
    missing.stderr.fnmatch_lines(["*backend 'slurm' needs the program 'srun' on PATH; available backends: local*"])

    srun = bin_dir / "srun"
    srun.write_text("#!/bin/sh\nexit 0\n")
    srun.chmod(srun.stat().st_mode | stat.S_IXUSR)
    assert os.access(srun, os.X_OK)
    found = run("--xlib-backend=slurm")
    found.assert_outcomes(passed=1, skipped=1)
