"""The backend table: a backend is one entry; its needs are checked before any test runs."""

from __future__ import annotations

import os
import stat

import pytest

from pytest_executorlib.slurm_probe import SinfoAnswer, probe_sinfo


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
    result.stdout.fnmatch_lines(["xlib: backend=toy (command line)*", "backend: toy, implementation: *"])


def _script(bin_dir, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    assert os.access(path, os.X_OK)


SLURM_TESTS = """
import pytest

@pytest.mark.slurm
def test_slurm(xlib_backend):
    assert xlib_backend == "slurm"

@pytest.mark.flux
def test_flux():
    pass
"""


def test_slurm_backend_needs_srun_on_path_and_an_answering_sinfo(
    pytester: pytest.Pytester, run, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    pytester.makepyfile(SLURM_TESTS)
    bin_dir = tmp_path_factory.mktemp("bin")
    monkeypatch.setenv("PATH", str(bin_dir))
    missing = run("--xlib-backend=slurm")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR
    missing.stderr.fnmatch_lines(["*backend 'slurm' needs the program 'srun' on PATH; available backends: local*"])

    _script(bin_dir, "srun", "exit 0\n")  # an srun alone (e.g. an unconfigured slurm-client) is not SLURM
    no_sinfo = run("--xlib-backend=slurm")
    assert no_sinfo.ret == pytest.ExitCode.USAGE_ERROR
    no_sinfo.stderr.fnmatch_lines(["*--xlib-backend=slurm: SLURM does not answer here (sinfo is not on PATH)*"])

    said = "sinfo: error: resolve_ctls_from_dns_srv: res_nsearch error: Unknown host"
    _script(bin_dir, "sinfo", f"echo '{said}' >&2\nexit 1\n")
    failing = run("--xlib-backend=slurm")
    assert failing.ret == pytest.ExitCode.USAGE_ERROR
    failing.stderr.fnmatch_lines([f"*SLURM does not answer here (sinfo exited with code 1: {said});*available backends: local*"])
    assert "available backends: local, slurm" not in failing.stderr.str()

    _script(bin_dir, "sinfo", "echo 'debug*|up|1|idle'\n")
    found = run("--xlib-backend=slurm")
    found.assert_outcomes(passed=1, skipped=1)


def test_sinfo_that_hangs_is_a_bounded_no(tmp_path_factory: pytest.TempPathFactory) -> None:
    bin_dir = tmp_path_factory.mktemp("bin")
    _script(bin_dir, "sinfo", "exec /bin/sleep 60\n")
    answer = probe_sinfo(timeout=0.5, env={"PATH": str(bin_dir)})
    assert answer == SinfoAnswer(False, "sinfo did not answer within 0.5 s")


def test_sinfo_listing_no_partition_is_a_no(tmp_path_factory: pytest.TempPathFactory) -> None:
    bin_dir = tmp_path_factory.mktemp("bin")
    _script(bin_dir, "sinfo", "exit 0\n")
    assert probe_sinfo(env={"PATH": str(bin_dir)}) == SinfoAnswer(False, "sinfo answered but lists no partition")


def test_slurm_backend_on_a_real_slurm(pytester: pytest.Pytester, run) -> None:
    """With a real SLURM answering (CI starts one and exports SLURM_CONF), the backend is selected."""
    answer = probe_sinfo()
    if not answer.ok:
        message = f"no real SLURM answers here: {answer.detail}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: {message} (.ci/run starts one with ci/start-slurm.sh)")
        pytest.skip(message)
    pytester.makepyfile(SLURM_TESTS)
    result = run("--xlib-backend=slurm", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
