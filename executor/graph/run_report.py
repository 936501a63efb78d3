"""The graph of a run that really executed (the pytest plugin's ``--xlib-graph=DIR``).

For one log (all executors a test built through the fixtures) this writes, under a base name:

- ``<name>.json``: ``{"test", "nodes", "edges"}`` with every call's ``state`` (done, failed, cancelled,
  cache hit, pending), ``duration`` in seconds (from the moment the call could start, i.e. its submission or
  the end of its last input, to its end) and ``error`` (``"Type: message"`` of a failed call); input values
  are given as the short labels of the drawing, as they need not be JSON values;
- ``<name>.dot``: the drawing in DOT, nodes coloured by state (no Graphviz program needed);
- ``<name>.svg``: the same laid out by Graphviz, when its ``dot`` program is on PATH.

Unlike plot mode, identical calls are separate nodes here: each really ran (or hit the cache).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from typing import Any

from executor.graph import draw, nodes
from executor.graph.calls import CallLog


def file_stem(test_id: str) -> str:
    """A file name for a test id (``tests/test_x.py::test_y[a-b]`` -> ``tests_test_x.py__test_y_a-b_``)."""
    return re.sub(r"[^\w.-]", "_", test_id)[:200]


def write(log: CallLog, directory: str | os.PathLike[str], test_id: str) -> list[str]:
    """Write the graph files of ``log`` into ``directory``; return their paths."""
    node_list, edge_list = nodes.build(log, merge_identical=False, with_state=True)
    os.makedirs(directory, exist_ok=True)
    stem = os.path.join(directory, file_stem(test_id))
    shown: list[dict[str, Any]] = [
        {**node, "value": draw.short_label(node["value"])} if node["type"] == "input" else node for node in node_list
    ]
    written = [stem + ".json"]
    with open(written[0], "w") as file:
        json.dump({"test": test_id, "nodes": shown, "edges": edge_list}, file, indent=2, default=str)
    for fmt in ("dot", "svg"):
        if fmt == "svg" and shutil.which("dot") is None:
            continue
        with open(f"{stem}.{fmt}", "wb") as file:
            file.write(draw.render(node_list, edge_list, fmt))
        written.append(f"{stem}.{fmt}")
    return written
