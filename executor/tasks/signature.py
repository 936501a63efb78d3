"""Which keyword names a callable declares (used at submit and inside workers, so it must be cheap)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any


def accepted_names(fn: Callable[..., Any]) -> frozenset[str]:
    """The parameter names ``fn`` declares and accepts as keywords (``**kwargs`` does not count, as in executorlib)."""
    code = getattr(fn, "__code__", None)
    if code is not None and inspect.isfunction(fn):  # fast path: no Signature object on the hot path
        n = code.co_argcount + code.co_kwonlyargcount
        return frozenset(code.co_varnames[code.co_posonlyargcount : n])
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return frozenset()
    return frozenset(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
