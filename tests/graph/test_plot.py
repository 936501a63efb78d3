"""Plot mode: nothing runs, every submit returns a future, the graph is drawn at shutdown; errors at construction."""

from __future__ import annotations

import os
import shutil
import sys
import types
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import pytest
import xgraph_calls as calls

import executor

pytest.importorskip("networkx", reason="drawing needs the graph extra")
pydot = pytest.importorskip("pydot", reason="drawing needs the graph extra")
# CI installs Graphviz (ci/install-graphviz.sh): there these tests must run, not skip.
needs_graphviz = pytest.mark.skipif(
    shutil.which("dot") is None and not os.environ.get("CI"), reason="needs Graphviz's dot program (apt install graphviz)"
)


def _draw(path: Path) -> None:
    with executor.SingleNodeExecutor(plot_dependency_graph_filename=str(path)) as ex:
        calls.with_selectors(ex, executor.split_future, executor.get_item_from_future)


def test_nothing_runs_and_futures_resolve_to_none(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with executor.SingleNodeExecutor(plot_dependency_graph_filename=str(tmp_path / "g.dot")) as ex:
        touched = ex.submit(calls.touch, str(marker))
        first, second = executor.split_future(ex.submit(calls.pair, touched), 2)
        chained = ex.submit(calls.add, first, executor.get_item_from_future(ex.submit(calls.stats, [second]), "n"))
        assert [f.result(timeout=0) for f in (touched, first, chained)] == [None, None, None]
        assert list(ex.map(calls.touch, [str(marker)])) == [None]
    assert not marker.exists()
    assert (tmp_path / "g.dot").exists()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pydot's parser uses old pyparsing names
def test_dot_file_parses_with_every_call_and_edge(tmp_path: Path) -> None:
    _draw(tmp_path / "g.dot")
    (graph,) = pydot.graph_from_dot_file(str(tmp_path / "g.dot"))
    labels = sorted(n.get_label().strip('"') for n in graph.get_nodes() if n.get_label())
    for name in ("add", "pair", "stats", "combine", "1", "2", "0.5", "text", "['$', '$']"):
        assert name in labels
    assert labels.count("add") == 3
    # both elements of the split pair are edges (executorlib's drawing merges them into one)
    assert sorted(e.get_label().strip('"') for e in graph.get_edges() if e.get_source() == "2") == ["00", "11"]


@needs_graphviz
@pytest.mark.parametrize(("suffix", "magic"), [("png", b"\x89PNG\r\n\x1a\n"), ("pdf", b"%PDF-")])
def test_binary_drawings_have_their_format(tmp_path: Path, suffix: str, magic: bytes) -> None:
    _draw(tmp_path / f"g.{suffix}")
    assert (tmp_path / f"g.{suffix}").read_bytes().startswith(magic)


@needs_graphviz
def test_svg_drawing_is_xml_with_the_labels(tmp_path: Path) -> None:
    _draw(tmp_path / "g.svg")
    root = ElementTree.parse(tmp_path / "g.svg").getroot()
    assert root.tag.endswith("svg")
    texts = [t.text for t in root.iter() if t.tag.endswith("text")]
    assert {"add", "pair", "stats", "combine"} <= set(texts)


@needs_graphviz
def test_without_filename_the_svg_is_displayed_inline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[Any] = []
    display = types.ModuleType("IPython.display")
    display.SVG = lambda data: ("SVG", data)  # type: ignore[attr-defined]
    display.display = shown.append  # type: ignore[attr-defined]
    ipython = types.ModuleType("IPython")
    ipython.display = display  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    with executor.SingleNodeExecutor(plot_dependency_graph=True) as ex:
        ex.submit(calls.add, ex.submit(calls.add, 1, 2), 3)
    [(kind, data)] = shown
    assert kind == "SVG" and ElementTree.fromstring(data).tag.endswith("svg")


def test_missing_networkx_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "networkx", None)
    with pytest.raises(ImportError, match=r"networkx.*pip install 'pytest-executorlib\[graph\]'"):
        executor.SingleNodeExecutor(plot_dependency_graph_filename=str(tmp_path / "g.svg"))


def test_missing_ipython_names_the_notebook_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "IPython", None)
    with pytest.raises(ImportError, match=r"IPython.*pytest-executorlib\[graphnotebook\]"):
        executor.SingleNodeExecutor(plot_dependency_graph=True)


def test_export_alone_needs_no_drawing_library(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "networkx", None)
    with executor.SingleNodeExecutor(export_workflow_filename=str(tmp_path / "wf.json")) as ex:
        ex.submit(calls.add, 1, 2)
    assert (tmp_path / "wf.json").exists()


def test_missing_graphviz_program_is_named_at_construction(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match=r"needs Graphviz's 'dot' program.*apt install graphviz"):
        executor.SingleNodeExecutor(plot_dependency_graph_filename=str(tmp_path / "g.png"))
    with executor.SingleNodeExecutor(plot_dependency_graph_filename=str(tmp_path / "g.dot")) as ex:  # needs none
        ex.submit(calls.add, 1, 2)
    assert (tmp_path / "g.dot").read_text().startswith("digraph")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"plot_dependency_graph_filename": "graph.jpg"}, ValueError, r"'graph.jpg'.*one of \.svg, \.png, \.pdf, \.dot"),
        ({"plot_dependency_graph": True, "disable_dependencies": True}, ValueError, "disable_dependencies=True"),
        ({"export_workflow_filename": "wf.json", "disable_dependencies": True}, ValueError, "disable_dependencies"),
        ({"export_workflow_filename": "/no/such/dir/wf.json"}, FileNotFoundError, "directory does not exist"),
    ],
)
def test_bad_parameters_fail_at_construction(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        executor.SingleNodeExecutor(**kwargs)


def test_arguments_that_do_not_fit_fail_at_submit(tmp_path: Path) -> None:
    with executor.SingleNodeExecutor(export_workflow_filename=str(tmp_path / "wf.json")) as ex:
        with pytest.raises(TypeError, match=r"add\(\) cannot be called with these arguments: .*'y'"):
            ex.submit(calls.add, 1)
        with pytest.raises(RuntimeError):  # the usual checks still apply
            ex.shutdown()
            ex.submit(calls.add, 1, 2)


def test_both_files_are_written(tmp_path: Path) -> None:
    with executor.SingleNodeExecutor(
        plot_dependency_graph_filename=str(tmp_path / "g.dot"), export_workflow_filename=str(tmp_path / "wf.json")
    ) as ex:
        ex.submit(calls.add, 1, 2)
    assert (tmp_path / "g.dot").exists() and (tmp_path / "wf.json").exists()


def test_graph_is_drawn_by_shutdown_without_with(tmp_path: Path) -> None:
    ex = executor.SingleNodeExecutor(plot_dependency_graph_filename=str(tmp_path / "g.dot"))
    ex.submit(calls.add, 1, 2)
    assert not (tmp_path / "g.dot").exists()
    ex.shutdown(wait=False)
    assert (tmp_path / "g.dot").exists()


def test_batched_and_map_in_plot_mode_resolve_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with executor.SingleNodeExecutor(export_workflow_filename=str(tmp_path / "wf.json")) as ex:
        futures = [ex.submit(calls.touch, str(marker)) for _ in range(3)]
        assert [b.result(timeout=5) for b in ex.batched(futures, 2)] == [[None, None], [None]]
    assert not marker.exists()

