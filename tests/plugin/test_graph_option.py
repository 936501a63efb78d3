"""--xlib-graph=DIR: each test that used the executor fixtures leaves the graph of its calls, states included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("pydot", reason="--xlib-graph needs the graph extra")

_TESTS = """
    import pytest

    def add(a, b):
        return a + b

    def boom(a):
        raise RuntimeError("broken step")

    def test_workflow(executor):
        a = executor.submit(add, 1, 2)
        b = executor.submit(boom, a)
        c = executor.submit(add, b, 1)
        with pytest.raises(RuntimeError):
            c.result()

    def test_cached_twice(executor_factory):
        with executor_factory() as ex:
            assert ex.submit(add, 2, 2).result() == 4
        with executor_factory() as ex:
            assert ex.submit(add, 2, 2).result() == 4

    def test_no_executor():
        assert True
"""


def _nodes(path: Path) -> list[tuple[str, str]]:
    document = json.loads(path.read_text())
    return [(n["name"], n["state"]) for n in document["nodes"] if n["type"] == "function"]


def test_graph_files_with_states_per_test(pytester: pytest.Pytester, run, xlib_impl: str) -> None:
    pytester.makepyfile(test_flow=_TESTS)
    result = run("--xlib-graph=graphs")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["xlib: *graph=graphs (command line)*"])
    out = pytester.path / "graphs"
    assert sorted(p.name for p in out.glob("*.json")) == ["test_flow.py__test_cached_twice.json", "test_flow.py__test_workflow.json"]
    assert _nodes(out / "test_flow.py__test_workflow.json") == [("add", "done"), ("boom", "failed"), ("add", "failed")]
    second = "cache hit" if xlib_impl == "reference" else "done"  # executorlib's executors do not say
    assert _nodes(out / "test_flow.py__test_cached_twice.json") == [("add", "done"), ("add", second)]
    assert (out / "test_flow.py__test_workflow.dot").read_text().startswith("digraph")


def test_env_variable_sets_the_directory_and_default_is_off(pytester: pytest.Pytester, run, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_flow=_TESTS)
    run().assert_outcomes(passed=3)
    assert not list(pytester.path.rglob("*.dot"))
    monkeypatch.setenv("XLIB_GRAPH", "from-env")
    run().assert_outcomes(passed=3)
    assert len(list((pytester.path / "from-env").glob("*.json"))) == 2


def test_missing_graph_extra_is_a_usage_error_naming_it(pytester: pytest.Pytester, run) -> None:
    pytester.makeconftest("import sys\nsys.modules['pydot'] = None  # as if the graph extra were not installed\n")
    pytester.makepyfile(test_flow=_TESTS)
    result = run("--xlib-graph=graphs")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--xlib-graph: drawing the dependency graph needs pydot: pip install 'pytest-executorlib[[]graph[]]'*"])
