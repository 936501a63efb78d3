"""Functions the graph tests submit (importable by module path, as a Python Workflow Definition stores them)."""

from __future__ import annotations

import os
from typing import Any


def add(x: Any, y: Any) -> Any:
    return x + y


def pair(a: Any, b: Any = 3) -> tuple[Any, Any]:
    return a, b


def stats(values: list[Any], scale: float = 1.0) -> dict[str, Any]:
    return {"total": sum(values) * scale, "n": len(values)}


def combine(parts: list[Any], info: dict[str, Any]) -> list[Any]:
    return [parts, info]


def touch(path: str) -> str:
    """Leaves a file behind: proof that the call ran."""
    with open(path, "w") as file:
        file.write("ran")
    return path


def fail(x: Any) -> Any:
    raise ValueError(f"failing on purpose with {x!r}")


def star(*values: Any, **options: Any) -> int:
    return len(values) + len(options)


def with_selectors(ex: Any, split_future: Any, get_item_from_future: Any) -> Any:
    """Futures as arguments, through split_future / get_item_from_future, inside lists and dicts, as kwargs."""
    a = ex.submit(add, 1, 2)
    b = ex.submit(add, a, y=2)
    first, second = split_future(ex.submit(pair, b), 2)
    s = ex.submit(stats, [first, second], scale=0.5)
    total = get_item_from_future(s, "total")
    ex.submit(combine, [total, a], {"n": get_item_from_future(s, "n"), "k": "text"})
    return ex.submit(add, a, total)


def with_items(ex: Any, split_future: Any, get_item_from_future: Any) -> Any:
    """Only dict selections (a Python Workflow Definition runner can execute it)."""
    a = ex.submit(add, x=1, y=2)
    s = ex.submit(stats, values=[a, 4, 5], scale=2.0)
    return ex.submit(add, x=get_item_from_future(s, "total"), y=get_item_from_future(s, "n"))


def with_literals(ex: Any, split_future: Any, get_item_from_future: Any) -> Any:
    """Shared and distinct literals, strings, lists, a dict, *args and **kwargs."""
    a = ex.submit(add, "x", "y")
    b = ex.submit(add, [1, 2], [3])
    ex.submit(star, 1, 2, key="value", other=[1, 2])
    return ex.submit(combine, [b, a], {"a": a, "n": None, "s": "y"})


def with_numpy(ex: Any, split_future: Any, get_item_from_future: Any) -> Any:
    import numpy as np

    return ex.submit(add, np.arange(3), np.ones(3))


#: Workflows whose export executorlib gets right (with_items mixes futures and literals in a list).
WORKFLOWS = {"selectors": with_selectors, "literals": with_literals, "numpy": with_numpy}


def exists(path: str) -> bool:
    return os.path.exists(path)
