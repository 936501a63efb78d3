"""Python Workflow Definition export (``export_workflow_filename=``), the JSON shared by aiida, jobflow and pyiron.

The file is what executorlib writes for the same calls: ``{"version": "0.1.0", "nodes": [...], "edges": [...]}``
indented by 4; function nodes ``{"id", "type": "function", "value": "module.name"}``, input nodes
``{"id", "type": "input", "value", "name"}`` (numpy arrays as nested lists), then one ``"output"`` node named
``"result"`` fed by the last node that has an input; edges ``{"target", "targetPort", "source",
"sourcePort"}`` where ``sourcePort`` is the key or index of a selection, else ``None``.  The
``python-workflow-definition`` package loads it (and can run it with aiida, jobflow, pyiron or plain Python).

Where executorlib fails (no call with an argument, a value JSON cannot hold) this module says so clearly: the
output node is then fed by the last call, and a value JSON cannot hold is named with the parameter it came from.
"""

from __future__ import annotations

import json
import os
from typing import Any

VERSION = "0.1.0"


def _json_value(value: Any, name: str) -> Any:
    tolist = getattr(value, "tolist", None)
    if type(value).__module__ == "numpy" and callable(tolist):  # numpy arrays and scalars, without importing numpy
        value = tolist()
    try:
        json.dumps(value)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"export_workflow_filename: the input {name!r} = {value!r} cannot be written to a Python Workflow "
            f"Definition file, which holds JSON values only (numbers, strings, booleans, None, lists, dicts; numpy "
            f"arrays as lists): {error}"
        ) from None
    return value


def workflow(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[str, Any]:
    """The Python Workflow Definition dict of the graph built by :func:`executor.graph.nodes.build`."""
    out_nodes: list[dict[str, Any]] = []
    for node in nodes:
        if node["type"] == "function":
            out_nodes.append({"id": node["id"], "type": "function", "value": node["value"]})
        else:
            out_nodes.append({"id": node["id"], "type": node["type"], "value": _json_value(node["value"], node["name"]), "name": node["name"]})
    out_edges = [
        {
            "target": edge["end"],
            "targetPort": edge.get("end_label", edge["label"]),
            "source": edge["start"],
            "sourcePort": edge.get("start_label"),
        }
        for edge in edges
    ]
    functions = [node["id"] for node in nodes if node["type"] == "function"]
    last = max((edge["target"] for edge in out_edges), default=functions[-1] if functions else None)
    result = {"id": len(out_nodes), "type": "output", "name": "result"}
    out_nodes.append(result)
    if last is not None:
        out_edges.append({"target": result["id"], "targetPort": None, "source": last, "sourcePort": None})
    return {"version": VERSION, "nodes": out_nodes, "edges": out_edges}


def export(nodes: list[dict[str, Any]], edges: list[dict[str, Any]], filename: str | os.PathLike[str]) -> None:
    """Write the Python Workflow Definition JSON file."""
    document = workflow(nodes, edges)  # checks every value before the file is opened
    with open(filename, "w") as file:
        json.dump(document, file, indent=4)
