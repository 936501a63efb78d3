"""Dependency graphs of executor calls: executorlib's plot mode, Python Workflow Definition export, and the
graph of a run that really executed.

Layers, lowest first::

    calls.py       CallLog: the front end's record of each submit() (only when a graph was asked for)
    nodes.py       CallLog -> nodes and edges, numbered as executorlib numbers them (plain Python)
    pwd.py         nodes/edges -> Python Workflow Definition JSON (export_workflow_filename=)
    draw.py        nodes/edges -> networkx -> DOT (pydot) -> svg/png/pdf (Graphviz) or inline (IPython)
    plot.py        PlotMode: the three constructor parameters; submit() logs, shutdown() draws/exports
    run_report.py  a recorded run's graph with states and durations (pytest --xlib-graph=DIR)

The front end (``executor.frontends.base.BaseExecutor``) holds a ``PlotMode`` or ``None`` and a ``CallLog`` or
``None``; with neither it pays one attribute test per call.  networkx, pydot and IPython are imported only when
a drawing is made, so importing this package costs nothing.
"""

from __future__ import annotations

from executor.graph.calls import CallLog, current, recording
from executor.graph.plot import PlotMode, plot_mode

__all__ = ["CallLog", "PlotMode", "current", "plot_mode", "recording"]
