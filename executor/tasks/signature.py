"""Which keyword names a callable declares (used at submit and inside workers, so it must be cheap)."""

from __future__ import annotations

from types import FunctionType

TYPE_CHECKING = False
if TYPE_CHECKING:  # workers import this module: keep typing out of their start-up (~5 ms)
    from collections.abc import Callable
    from typing import Any


def accepted_names(fn: Callable[..., Any]) -> frozenset[str]:
    """The parameter names ``fn`` declares and accepts as keywords (``**kwargs`` does not count, as in executorlib)."""
    code = getattr(fn, "__code__", None)
    if code is not None and isinstance(fn, FunctionType):  # fast path: no Signature object on the hot path
        n = code.co_argcount + code.co_kwonlyargcount
        return frozenset(code.co_varnames[code.co_posonlyargcount : n])
    import inspect  # only here: importing it costs every worker ~5 ms

    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return frozenset()
    return frozenset(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
