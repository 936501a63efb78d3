"""The parts of executor.coverage on their own: decisions, failures that must not break a worker, and the
promise that an unmeasured parent's template and workers never hear of coverage."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
import types
import warnings
from pathlib import Path

import pytest

from executor.coverage import parent, worker


def run_python(code: str, cwd: Path, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("COVERAGE_", "XLIB_"))}
    clean.update(env)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=clean, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parent, "_warned", set())


@pytest.mark.parametrize(
    ("setting", "variable", "expected"),
    [
        (None, None, False),
        (None, "0", True),
        (None, "off", True),
        (None, "1", False),
        (True, "0", False),  # the keyword wins over the variable
        (False, None, True),
        (False, "1", True),
    ],
)
def test_opt_out(monkeypatch: pytest.MonkeyPatch, setting: bool | None, variable: str | None, expected: bool) -> None:
    if variable is None:
        monkeypatch.delenv(parent.OPT_OUT_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(parent.OPT_OUT_VARIABLE, variable)
    assert parent.opted_out(setting) is expected


def test_unmeasured_parent_imports_nothing_anywhere(tmp_path: Path) -> None:
    """No coverage in the parent: nothing about coverage is imported in the template or in workers."""
    out = run_python(
        """
        import sys
        from executor import SingleNodeExecutor

        def modules():
            import sys
            return sorted(m for m in sys.modules if m == "coverage" or m.startswith(("coverage.", "executor.coverage")))

        for block in (False, True):
            with SingleNodeExecutor(max_workers=1, block_allocation=block) as exe:
                print(exe.submit(modules).result())
        print("coverage" in sys.modules)
        """,
        tmp_path,
    )
    assert out.split("\n")[:3] == ["[]", "[]", "False"], out


def test_measure_workers_is_none_when_coverage_imported_but_not_running(tmp_path: Path) -> None:
    code = "import coverage\nfrom executor.coverage import measure_workers\nprint(measure_workers())"
    assert run_python(code, tmp_path).strip() == "None"


def test_spec_carries_parent_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    coverage = pytest.importorskip("coverage")
    monkeypatch.chdir(tmp_path)
    cov = coverage.Coverage(branch=True, data_file="data/.cov", omit=["skipped/*", "*/also.py"])
    spec = parent.spec_for(cov)
    assert spec is not None
    config_b64, _, directory = spec.partition(":")
    config = json.loads(base64.b64decode(config_b64))
    assert config["branch"] is True and config["parallel"] is True and config["sigterm"] is True
    assert {"_exit", "fork"} <= set(config["patch"])
    assert config["data_file"] == str(tmp_path / "data" / ".cov")
    assert config["run_omit"] == [str(tmp_path / "skipped" / "*"), "*/also.py"]
    assert directory


def test_old_coverage_warns_once(monkeypatch: pytest.MonkeyPatch, fresh_warnings: None) -> None:
    running = types.SimpleNamespace(config=types.SimpleNamespace(serialize=lambda: "e30="))
    fake = types.ModuleType("coverage")
    fake.__version__ = "6.5.0"  # type: ignore[attr-defined]
    fake.version_info = (6, 5, 0, "final", 0)  # type: ignore[attr-defined]
    fake.Coverage = types.SimpleNamespace(current=lambda: running)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "coverage", fake)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert parent.measure_workers() is None
        assert parent.measure_workers() is None
    assert [str(w.message) for w in caught] == [
        "coverage 6.5.0 is too old to measure worker processes (needs 7.10 or later); worker processes run unmeasured"
    ]
    assert caught[0].category is parent.WorkerCoverageWarning


def test_missing_coverage_in_worker_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "coverage", None)  # "import coverage" raises ImportError
    problem = worker.start("e30=:/nowhere")
    assert problem is not None and "ModuleNotFoundError" in problem
    assert worker.prepare("e30=:/nowhere") == problem


def test_garbage_spec_is_reported_not_raised(tmp_path: Path) -> None:
    pytest.importorskip("coverage")
    assert "could not start" in (worker.prepare("not base64!:/") or "")
    # in a process of its own: this one may be measured, and start() never starts a second Coverage
    out = run_python("from executor.coverage.worker import start\nprint(start('not base64!:/'))", tmp_path)
    assert "could not start" in out


def test_start_from_environment_without_variable_imports_nothing(tmp_path: Path) -> None:
    out = run_python(
        """
        import sys
        from executor.coverage.worker import start_from_environment
        print(start_from_environment(), "coverage" in sys.modules)
        """,
        tmp_path,
    )
    assert out.strip() == "None False"


def test_launcher_worker_measures_from_environment(tmp_path: Path) -> None:
    """What an exec'd launcher (mpiexec, srun, flux) does: the parent's spec in XLIB_COVERAGE_CONFIG, and
    ``start_from_environment()`` first thing in the worker."""
    coverage = pytest.importorskip("coverage")
    (tmp_path / "mod.py").write_text("def f():\n    return 42\n")
    spec = parent.spec_for(coverage.Coverage(data_file=str(tmp_path / ".coverage"), source=[str(tmp_path)]))
    env = parent.launcher_environment(spec)
    assert list(env) == [parent.CONFIG_VARIABLE]
    rank = tmp_path / "rank"
    rank.mkdir()  # the rank runs in another cwd: its data still lands next to the parent's data file
    code = f"""
        import sys
        from executor.coverage.worker import start_from_environment
        assert start_from_environment() is None
        sys.path.insert(0, {str(tmp_path)!r})
        import mod
        print(mod.f())
        """
    assert run_python(code, rank, PMI_RANK="0", **env).strip() == "42"
    assert not list(rank.glob(".coverage*"))
    assert len(list(tmp_path.glob(".coverage.*"))) == 1
    combined = coverage.Coverage(data_file=str(tmp_path / ".coverage"))
    combined.combine()
    lines = combined.get_data().lines(str(tmp_path / "mod.py"))
    assert lines is not None and 2 in lines


def test_launcher_worker_reports_a_problem_once_from_rank_0(tmp_path: Path) -> None:
    code = "from executor.coverage.worker import start_from_environment\nstart_from_environment()\nprint('ran')"
    for rank, expected in (("0", 1), ("1", 0)):
        done = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, parent.CONFIG_VARIABLE: "not base64!:/", "PMI_RANK": rank},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.stdout.strip() == "ran"
        assert done.stderr.count("WorkerCoverageWarning") == expected, done.stderr


def test_template_environment_drops_coverage_start_up_variables() -> None:
    env = {"PATH": "/bin", "COVERAGE_PROCESS_START": "x", "COVERAGE_PROCESS_CONFIG": "y", "COV_CORE_SOURCE": "z",
           "COVERAGE_FILE": "keep"}  # fmt: skip
    assert parent.template_environment(env) == {"PATH": "/bin", "COVERAGE_FILE": "keep"}


def test_no_second_coverage_in_an_already_measured_process(tmp_path: Path) -> None:
    coverage = pytest.importorskip("coverage")
    spec = parent.spec_for(coverage.Coverage(data_file=str(tmp_path / ".coverage")))
    out = run_python(
        f"""
        import coverage
        cov = coverage.Coverage(data_file={str(tmp_path / "own")!r})
        cov.start()
        from executor.coverage.worker import start
        print(start({spec!r}), coverage.Coverage.current() is cov)
        cov.stop()
        """,
        tmp_path,
    )
    assert out.strip() == "None True"
