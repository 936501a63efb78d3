"""Drawing a graph: networkx builds it, pydot writes DOT, Graphviz's ``dot`` program lays it out.

Dependencies (the ``graph`` extra): ``networkx`` and ``pydot``, both pure-Python wheels (executorlib uses
pygraphviz, which compiles against the Graphviz C headers).  A ``.dot`` file needs nothing more; ``.svg``,
``.png``, ``.pdf`` and the inline notebook picture (SVG) need the Graphviz programs (``apt install graphviz``,
``conda install graphviz``, ``brew install graphviz``).  :func:`check` finds out at construction whether
everything a drawing will need is there, so a missing piece is an error where the executor is built, not at
shutdown after the whole workflow was submitted.

Labels follow executorlib: a function node shows the function's name, an input node a short form of its
value (long strings cut at 21 characters, objects as ``ClassName()``), an edge the parameter it feeds.  The
recording mode adds the call's state and duration and colours the node by state.
"""

from __future__ import annotations

import importlib
import os
import shutil
from typing import Any

FORMATS = ("svg", "png", "pdf", "dot")
EXTRA = "pip install 'pytest-executorlib[graph]'"
#: Fill colours of the recording mode's node states.
COLOURS = {"done": "palegreen", "failed": "salmon", "cancelled": "lightgrey", "cache hit": "lightblue", "pending": "khaki"}


def file_format(filename: str | os.PathLike[str]) -> str:
    """The drawing format of ``filename`` from its suffix (``ValueError`` naming the accepted ones)."""
    suffix = os.path.splitext(os.fspath(filename))[1][1:].lower()
    if suffix not in FORMATS:
        raise ValueError(
            f"plot_dependency_graph_filename={os.fspath(filename)!r}: the suffix gives the drawing format, "
            f"one of {', '.join('.' + f for f in FORMATS)}"
        )
    return suffix


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def check(fmt: str, notebook: bool = False) -> None:
    """Raise ``ImportError`` / ``RuntimeError`` now if drawing in ``fmt`` will not be possible."""
    missing = [name for name in ("networkx", "pydot", *(("IPython",) if notebook else ())) if not _importable(name)]
    if missing:
        extra = "graphnotebook" if "IPython" in missing else "graph"
        raise ImportError(
            f"drawing the dependency graph needs {', '.join(missing)}: {EXTRA.replace('[graph]', f'[{extra}]')}"
        )
    if fmt != "dot" and shutil.which("dot") is None:
        raise RuntimeError(
            f"drawing the dependency graph as {fmt} needs Graphviz's 'dot' program, which is not on PATH: install "
            "Graphviz (apt install graphviz, conda install graphviz, brew install graphviz) or ask for a .dot file"
        )


def short_label(value: Any) -> str:
    """A short text for a literal input (same rules as executorlib's plot labels)."""
    if isinstance(value, (tuple, list)):
        return str(type(value)(short_label(v) for v in value))
    if isinstance(value, dict):
        return str({short_label(k): short_label(v) for k, v in value.items()})
    text = str(value)
    if "object at" in text:
        return text[1:-1].split(maxsplit=1)[0].rsplit(".", maxsplit=1)[-1] + "()"
    if "<function" in text:
        return text.split()[1] + "()"
    if "\n" in text:
        return type(value).__name__ + "()"
    if "(" in text and ")" in text:
        return text.split("(", maxsplit=1)[0] + "()"
    return text[:21] + "..." if len(text) > 20 else text


def _seconds(duration: float) -> str:
    return f"{duration * 1000:.3g} ms" if duration < 1 else f"{duration:.3g} s"


def _node_label(node: dict[str, Any]) -> str:
    if node["type"] == "input":
        return short_label(node["value"])
    label = str(node["name"])
    if "state" in node:
        duration = node.get("duration")
        label += f"\n{node['state']}" + ("" if duration is None else f" {_seconds(duration)}")
    return label


def to_networkx(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> Any:
    """A ``networkx.MultiDiGraph`` with the DOT attributes (label, shape, colour) of every node and edge."""
    import networkx as nx

    graph = nx.MultiDiGraph()  # two selections of one result are two edges (executorlib draws one)
    for node in nodes:
        attributes = {"label": _node_label(node), "shape": node["shape"]}
        if "state" in node:
            attributes.update(style="filled", fillcolor=COLOURS.get(node["state"], "white"))
            if "error" in node:
                attributes["tooltip"] = node["error"]
        graph.add_node(node["id"], **attributes)
    for edge in edges:
        graph.add_edge(edge["start"], edge["end"], label=str(edge["label"]))
    return graph


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_pydot(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> Any:
    """The graph as a ``pydot.Dot`` (through networkx), every attribute quoted."""
    import networkx as nx

    graph = to_networkx(nodes, edges)
    for data in [*(d for _, d in graph.nodes(data=True)), *(d for *_, d in graph.edges(data=True))]:
        for key, value in data.items():  # pydot leaves quoting of arbitrary text to the caller
            data[key] = _quote(str(value))
    return nx.nx_pydot.to_pydot(graph)


def render(nodes: list[dict[str, Any]], edges: list[dict[str, Any]], fmt: str) -> bytes:
    """The drawing as bytes: DOT text for ``"dot"``, else laid out by Graphviz's ``dot`` program."""
    graph = to_pydot(nodes, edges)
    if fmt == "dot":
        return str(graph.to_string()).encode()
    data: bytes = graph.create(prog="dot", format=fmt)
    return data


def draw(nodes: list[dict[str, Any]], edges: list[dict[str, Any]], filename: str | os.PathLike[str] | None) -> None:
    """Write the drawing to ``filename`` (format from its suffix) or, without one, show it inline (IPython)."""
    if filename is not None:
        data = render(nodes, edges, file_format(filename))
        with open(filename, "wb") as file:
            file.write(data)
        return
    from IPython.display import SVG, display

    display(SVG(render(nodes, edges, "svg")))
