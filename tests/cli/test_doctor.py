"""``python -m executor doctor`` diagnoses the problems of executorlib's troubleshooting page."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from executor.cli import doctor


def run_doctor(root: str) -> tuple[int, dict[str, tuple[str, str]]]:
    out = io.StringIO()
    parser_args = type("Args", (), {"root": root})()
    code = doctor.run(parser_args, out)  # type: ignore[arg-type]
    rows = {}
    for line in out.getvalue().splitlines()[:-1]:
        status, name, detail = line.split(maxsplit=2)
        rows[name] = (status, detail)
    return code, rows


@pytest.mark.timeout(60)
def test_a_healthy_machine_passes_and_a_worker_really_ran(tmp_path):
    code, rows = run_doctor(str(tmp_path))
    assert code == 0
    assert rows["workers"][0] == "ok" and "127.0.0.1" in rows["workers"][1]
    assert rows["leftovers"] == ("ok", f"no cache directories under {tmp_path}")


@pytest.mark.timeout(60)
def test_forgotten_cache_directories_are_reported(tmp_path):
    (tmp_path / "project" / "executorlib_cache").mkdir(parents=True)
    (tmp_path / "project" / "executorlib_cache" / "f0123_o.h5").write_bytes(b"x")
    code, rows = run_doctor(str(tmp_path))
    assert code == 0
    status, detail = rows["leftovers"]
    assert status == "warn" and "executorlib_cache" in detail


@pytest.mark.timeout(60)
def test_missing_mpi_names_the_extra(tmp_path, monkeypatch):
    from executor.spawners import mpiexec

    def missing() -> None:
        raise ImportError("mpi4py is missing: pip install 'pytest-executorlib[mpi]'")

    monkeypatch.setattr(mpiexec, "require_mpi", missing)
    _, rows = run_doctor(str(tmp_path))
    assert rows["mpi"][0] == "warn" and "[mpi]" in rows["mpi"][1]


def test_a_failing_check_fails_the_command(tmp_path, monkeypatch):
    monkeypatch.setattr(doctor, "_workers", lambda: ("FAIL", "no worker"))
    assert run_doctor(str(tmp_path))[0] == 1


@pytest.mark.timeout(60)
def test_command_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "executor", "doctor", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "ok   workers" in done.stdout


@pytest.mark.parametrize("value", ["0", "false", "No", " off "])
def test_coverage_opt_out_accepts_the_values_the_executor_accepts(monkeypatch, value):
    from executor.coverage.parent import opted_out

    monkeypatch.setenv("XLIB_WORKER_COVERAGE", value)
    assert opted_out(None), "the executor leaves workers unmeasured"
    status, detail = doctor._coverage()
    assert status == "ok" and "switched off by XLIB_WORKER_COVERAGE" in detail


@pytest.mark.parametrize("value", ["1", "true", ""])
def test_coverage_is_reported_on_when_the_executor_measures(monkeypatch, value):
    from executor.coverage.parent import opted_out

    monkeypatch.setenv("XLIB_WORKER_COVERAGE", value)
    assert not opted_out(None)
    assert "switched off" not in doctor._coverage()[1]
