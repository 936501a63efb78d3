"""``--xlib-graph=DIR``: the graph of each test's executor calls, with state and duration, written after the test.

Design: the executors the fixtures build record into one ``executor.graph.CallLog`` per test, kept in
``item.stash``.  With the reference implementation the executor's front end keeps the record (it alone knows
which calls were cache hits): the fixture builds it inside ``executor.graph.recording(log)``.  executorlib's
executors are recorded by the fixture's ``submit`` wrapper instead (states done / failed / cancelled only).
After the test (fixtures torn down, so every call has ended or was cancelled) the plugin writes
``DIR/<test id>.json``, ``.dot`` and, when Graphviz's ``dot`` program is on PATH, ``.svg``.

Without the option nothing here runs and the executors hold no log.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

log_key = pytest.StashKey[Any]()


def directory(config: pytest.Config, value: str | bool) -> str | None:
    """The absolute output directory of ``--xlib-graph`` (``None``: off); a usage error without the extra."""
    if not value or not isinstance(value, str):
        return None
    from executor.graph.draw import check

    try:
        check("dot")  # the .dot drawing needs networkx and pydot; the .svg is added only where Graphviz is
    except ImportError as error:
        raise pytest.UsageError(f"--xlib-graph: {error}") from None
    return os.path.join(str(config.invocation_params.dir), os.path.expanduser(value))


def log_for(node: pytest.Item, graph_dir: str | None) -> Any:
    """The test's call log (created on first use), or ``None`` when the option is off."""
    if graph_dir is None:
        return None
    log = node.stash.get(log_key, None)
    if log is None:
        from executor.graph import CallLog

        log = node.stash[log_key] = CallLog()
    return log


@contextlib.contextmanager
def building(log: Any, impl: str) -> Iterator[None]:
    """Around an executor's construction: the reference executor records into ``log`` itself."""
    if log is None or impl != "reference":
        yield
        return
    from executor.graph import recording

    with recording(log):
        yield


def wrapper_records(log: Any, impl: str) -> Callable[..., Any] | None:
    """``log.add`` for the fixture's submit wrapper when the executor cannot record itself (executorlib)."""
    return None if log is None or impl == "reference" else log.add


def write(item: pytest.Item, graph_dir: str | None) -> None:
    """Write the test's graph files, if it recorded any call."""
    log = item.stash.get(log_key, None)
    if graph_dir is None or log is None or not log.calls:
        return
    from executor.graph.run_report import write as write_files

    try:
        write_files(log, graph_dir, item.nodeid)
    except Exception as error:  # a graph that cannot be written must not break the run
        item.warn(pytest.PytestWarning(f"--xlib-graph: cannot write the graph of this test: {type(error).__name__}: {error}"))
