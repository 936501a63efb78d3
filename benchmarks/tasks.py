"""Trivial functions the benchmarks submit (a module, so every executor pickles them by reference)."""


def inc(x: int) -> int:
    return x + 1
