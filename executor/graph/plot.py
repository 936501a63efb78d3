"""Plot mode: executorlib's ``plot_dependency_graph``, ``plot_dependency_graph_filename`` and
``export_workflow_filename`` constructor parameters.

Meaning (as in executorlib): any of the three switches the executor to plot mode, in which nothing runs:
``submit()`` checks the call, logs it and returns a future already resolved to ``None`` (so futures and their
selections can be passed on as in a real run).  At shutdown (``with`` exit or ``shutdown()``) the graph is
exported to ``export_workflow_filename`` and/or drawn to ``plot_dependency_graph_filename`` (format from the
suffix); with ``plot_dependency_graph=True`` and neither file it is shown inline in a notebook (IPython).

Unlike executorlib, every mistake is reported by the constructor or by ``submit()``: a missing dependency or
Graphviz program, an unknown suffix, ``disable_dependencies=True`` (which executorlib silently ignores for the
file parameters), arguments that do not fit the function.  Giving both files writes both.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from executor.graph import draw, nodes, pwd
from executor.graph.calls import CallLog


class PlotMode:
    """The executor's plot mode: log calls without running them, draw and/or export the graph at shutdown."""

    def __init__(self, show: bool, filename: str | os.PathLike[str] | None, export: str | os.PathLike[str] | None) -> None:
        self.filename = None if filename is None else os.path.abspath(filename)  # the cwd may change before shutdown
        self.export = None if export is None else os.path.abspath(export)
        self.notebook = show and filename is None and export is None
        self.log = CallLog(track=False)
        self._finished = False

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Future[Any]:
        """Log the call and return a future resolved to ``None``."""
        try:
            nodes.bound_arguments(fn, args, kwargs)
        except TypeError as error:
            raise TypeError(f"{nodes.function_name(fn)}() cannot be called with these arguments: {error}") from None
        future: Future[Any] = Future()
        self.log.add(future, fn, args, kwargs)
        future.set_result(None)
        return future

    def finish(self) -> None:
        """Export and/or draw the graph (once)."""
        if self._finished:
            return
        self._finished = True
        node_list, edge_list = nodes.build(self.log)
        if self.export is not None:
            pwd.export(node_list, edge_list, self.export)
        if self.filename is not None or self.notebook:
            draw.draw(node_list, edge_list, self.filename)


def plot_mode(
    plot_dependency_graph: bool,
    plot_dependency_graph_filename: str | os.PathLike[str] | None,
    export_workflow_filename: str | os.PathLike[str] | None,
    disable_dependencies: bool,
) -> PlotMode | None:
    """The plot mode the parameters ask for (``None``: a normal executor); every check happens here."""
    if not (plot_dependency_graph or plot_dependency_graph_filename is not None or export_workflow_filename is not None):
        return None
    if disable_dependencies:
        raise ValueError(
            "plot_dependency_graph, plot_dependency_graph_filename and export_workflow_filename draw the "
            "dependencies between calls, which disable_dependencies=True switches off: drop one of them"
        )
    if plot_dependency_graph_filename is not None:
        draw.check(draw.file_format(plot_dependency_graph_filename))
    elif export_workflow_filename is None:
        draw.check("svg", notebook=True)
    mode = PlotMode(bool(plot_dependency_graph), plot_dependency_graph_filename, export_workflow_filename)
    for path in (mode.filename, mode.export):
        if path is not None and not os.path.isdir(os.path.dirname(path)):
            raise FileNotFoundError(f"cannot write the dependency graph to {path}: its directory does not exist")
    return mode
