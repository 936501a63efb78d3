"""``cwd``: the call runs there (created if missing); relative paths resolve at submit; caller's modules import."""

from __future__ import annotations

import importlib
import os
import sys
import uuid

import pytest
import rescalls

pytestmark = pytest.mark.timeout(60)


def test_missing_cwd_is_created_and_the_call_runs_there(executors, tmp_path):
    target = tmp_path / "not" / "yet" / "there"
    resources = {"cwd": str(target)}
    ex = executors.make(resources, max_workers=1)
    assert executors.submit(ex, resources, rescalls.getcwd).result(timeout=30) == os.path.realpath(target)
    assert target.is_dir()
    assert os.getcwd() != os.path.realpath(target), "the caller's cwd must not change"


def test_relative_cwd_resolves_against_the_callers_cwd_at_submit(executors, tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    monkeypatch.chdir(first)
    resources = {"cwd": "rel"}
    ex = executors.make(resources, max_workers=1)
    # occupy the only slot so the call with the relative cwd is still queued (no worker yet) when we chdir
    started, go = tmp_path / "started", tmp_path / "go"
    blocker = executors.submit(ex, resources, rescalls.started_then_wait, str(started), str(go))
    rescalls.wait_for(str(started), 20)
    future = executors.submit(ex, resources, rescalls.getcwd)
    monkeypatch.chdir(second)
    rescalls.touch(str(go))
    assert blocker.result(timeout=30) == os.path.realpath(first / "rel")
    assert future.result(timeout=30) == os.path.realpath(first / "rel")
    assert not (second / "rel").exists()


@pytest.mark.parametrize("entry", ["absolute", "relative"])
def test_module_of_the_callers_project_imports_in_the_worker(executors, tmp_path, monkeypatch, entry):
    """A module found through the caller's sys.path imports in the worker, whatever the call's cwd.

    ``relative``: sys.path holds ``""`` (the caller's cwd), as in ``python -c``, the REPL and Jupyter."""
    project = tmp_path / "project"
    project.mkdir()
    name = f"caller_project_{uuid.uuid4().hex[:8]}"
    (project / f"{name}.py").write_text(
        "import os\nMARK = 'from-the-project'\n\ndef where(x):\n    return MARK, __file__, os.getcwd(), x\n"
    )
    monkeypatch.chdir(project)
    monkeypatch.syspath_prepend(str(project) if entry == "absolute" else "")
    module = importlib.import_module(name)
    try:
        run_in = tmp_path / "elsewhere"
        resources = {"cwd": str(run_in)}
        ex = executors.make(resources, max_workers=1)
        mark, file, cwd, x = executors.submit(ex, resources, module.where, 3).result(timeout=30)
        assert (mark, x) == ("from-the-project", 3)
        assert os.path.realpath(file) == os.path.realpath(module.__file__)
        assert cwd == os.path.realpath(run_in)
    finally:
        sys.modules.pop(name, None)
