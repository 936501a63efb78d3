"""From a call log to nodes and edges, numbered as executorlib numbers them.

Nodes are dicts ``{"id", "type", "name", "value", "shape"}``: first one ``"function"`` node per call (in
submission order; in plot mode identical calls are one node, as in executorlib), then, call by call and
parameter by parameter (names from ``inspect.signature(fn).bind``), the nodes of their inputs:

- a literal becomes an ``"input"`` node (``name`` = the first parameter that used it, ``value`` = the literal);
  equal literals (same type and ``str()``) share one node;
- a future of a logged call becomes an edge from that call's node, labelled with the parameter name;
- a selection (``get_item_from_future`` / ``split_future``) becomes an edge from the selected call's node,
  with ``start_label`` = the key or index and ``end_label`` = the parameter;
- a list or tuple holding futures becomes a ``python_workflow_definition.shared.get_list`` function node fed by
  every element (ports ``"0"``, ``"1"``, ...), a dict holding futures a ``get_dict`` node fed by every value.
  (executorlib feeds a list node with its futures only, so literals next to futures are lost from the
  exported workflow; this is the one place where our file differs from executorlib's, which is then wrong.)

Edges are dicts ``{"start", "end", "label"}`` (+ ``start_label`` / ``end_label`` for selections).  The
recording mode adds ``state``, ``duration`` and ``error`` to function nodes.  Everything here is plain Python:
no optional dependency is needed to build or export a graph.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import cloudpickle

from executor.graph.calls import Call, CallLog

GET_LIST = "python_workflow_definition.shared.get_list"
GET_DICT = "python_workflow_definition.shared.get_dict"


def selection(future: Future[Any]) -> tuple[Future[Any], Any] | None:
    """``(source future, key or index)`` of a ``get_item_from_future`` / ``split_future`` result (ours or
    executorlib's), ``None`` for a plain future."""
    selector = getattr(future, "_selector", None)
    if selector is None:
        return None
    source = getattr(future, "_source", None) or getattr(future, "_future", None)
    return (source, selector) if isinstance(source, Future) else None


def _root(future: Future[Any]) -> Future[Any]:
    while (picked := selection(future)) is not None:
        future = picked[0]
    return future


def _has_future(value: Any) -> bool:
    if isinstance(value, Future):
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_future(item) for item in value)
    if isinstance(value, dict):
        return any(_has_future(item) for item in value.values())
    return False


def source_futures(value: Any) -> list[Future[Any]]:
    """The futures of the calls ``value`` depends on (selections replaced by what they select from)."""
    if isinstance(value, Future):
        return [_root(value)]
    if isinstance(value, (list, tuple)):
        return [f for item in value for f in source_futures(item)]
    if isinstance(value, dict):
        return [f for item in value.values() for f in source_futures(item)]
    return []


def function_name(fn: Callable[..., Any]) -> str:
    return str(getattr(fn, "__name__", None) or getattr(fn, "__qualname__", None) or type(fn).__name__)


def function_path(fn: Callable[..., Any]) -> str:
    """``module.name``, the importable path the Python Workflow Definition stores for a function."""
    return f"{getattr(fn, '__module__', None) or type(fn).__module__}.{function_name(fn)}"


def bound_arguments(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Parameter name -> value as the call binds them (``TypeError`` if the arguments do not fit ``fn``)."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins: no signature, name positions by their index
        return {**{str(i): a for i, a in enumerate(args)}, **kwargs}
    return dict(signature.bind(*args, **kwargs).arguments)


class _Builder:
    def __init__(self, log: CallLog, merge_identical: bool) -> None:
        self.log = log
        self.merge = merge_identical
        self.nodes: list[dict[str, Any]] = []
        self.edges: list[dict[str, Any]] = []
        self.node_of: dict[Future[Any], int] = {}  # a call's future -> its function node
        self.inputs: dict[tuple[str, str], int] = {}
        self.calls: list[tuple[int, Call]] = []

    def _call_key(self, call: Call) -> bytes | None:
        """Identity of a call for merging: function and arguments, futures replaced by their node ids."""

        def convert(value: Any) -> Any:
            if isinstance(value, Future):
                picked = selection(value)
                if picked is not None:
                    return ("xlib-selection", convert(picked[0]), picked[1])
                return ("xlib-future", self.node_of.get(value, id(value)))
            if isinstance(value, (list, tuple)):
                return type(value)(convert(v) for v in value) if type(value) in (list, tuple) else [convert(v) for v in value]
            if isinstance(value, dict):
                return {k: convert(v) for k, v in value.items()}
            return value

        try:
            return cloudpickle.dumps((call.fn, convert(call.args), convert(call.kwargs)))
        except Exception:  # an argument that cannot be pickled: never merged
            return None

    def functions(self) -> None:
        seen: dict[bytes, int] = {}
        for call in self.log.calls:
            key = self._call_key(call) if self.merge else None
            if key is not None and key in seen:
                self.node_of[call.future] = seen[key]
                continue
            node_id = len(self.nodes)
            self.node_of[call.future] = node_id
            if key is not None:
                seen[key] = node_id
            self.nodes.append(
                {"id": node_id, "type": "function", "name": function_name(call.fn), "value": function_path(call.fn), "shape": "box"}
            )
            self.calls.append((node_id, call))

    def inputs_of_calls(self) -> None:
        for node_id, call in self.calls:
            for name, value in bound_arguments(call.fn, call.args, call.kwargs).items():
                self.add(value, node_id, name)

    def add(self, value: Any, target: int, label: str) -> None:
        if isinstance(value, Future):
            picked = selection(value)
            if picked is not None:
                start = self._source_node(picked[0])
                port = str(picked[1])
                self.edges.append({"start": start, "end": target, "label": label + port, "end_label": label, "start_label": port})
            else:
                self.edges.append({"start": self._source_node(value), "end": target, "label": label})
        elif isinstance(value, (list, tuple)) and _has_future(value):
            node_id = self._helper(str([v if not _has_future(v) else "$" for v in value]), GET_LIST, target, label)
            for i, item in enumerate(value):  # executorlib feeds the futures only, and loses the literals
                self.add(item, node_id, str(i))
        elif isinstance(value, dict) and _has_future(value):
            node_id = self._helper(str({k: v if not _has_future(v) else "$" for k, v in value.items()}), GET_DICT, target, label)
            for key, item in value.items():
                self.add(item, node_id, key)
        else:
            self.edges.append({"start": self._literal(value, label), "end": target, "label": label})

    def _helper(self, name: str, path: str, target: int, label: str) -> int:
        node_id = len(self.nodes)
        self.nodes.append({"id": node_id, "type": "function", "name": name, "value": path, "shape": "box"})
        self.edges.append({"start": node_id, "end": target, "label": label})
        return node_id

    def _literal(self, value: Any, label: str) -> int:
        key = (type(value).__qualname__, str(value))
        node_id = self.inputs.get(key)
        if node_id is None:
            node_id = self.inputs[key] = len(self.nodes)
            self.nodes.append({"id": node_id, "type": "input", "name": label, "value": value, "shape": "circle"})
        return node_id

    def _source_node(self, future: Future[Any]) -> int:
        node_id = self.node_of.get(_root(future))
        if node_id is not None:
            return node_id
        # A future this executor did not make (another executor's, or a hand-made one): its value is an input.
        value = future.result() if future.done() and not future.cancelled() and future.exception() is None else repr(future)
        return self._literal(value, "future")

    def timings(self) -> None:
        for node_id, call in self.calls:
            node = self.nodes[node_id]
            node["state"] = call.state
            node["duration"] = None if call.finished is None else max(0.0, call.finished - self.log.started(call))
            if call.error is not None:
                node["error"] = call.error


def build(log: CallLog, merge_identical: bool = True, with_state: bool = False) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Nodes and edges of the logged calls (see the module docstring)."""
    builder = _Builder(log, merge_identical)
    builder.functions()
    builder.inputs_of_calls()
    if with_state:
        builder.timings()
    return builder.nodes, builder.edges
