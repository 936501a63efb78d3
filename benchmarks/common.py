"""Helpers shared by the benchmarks: interleaved rounds, medians, a printed table."""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Callable

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
# executorlib looks up mpiexec on PATH only: make the one next to this interpreter (the mpich wheel) visible.
os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
# executorlib's workers do not inherit sys.path: let every executor's workers import ``tasks``.
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [_HERE, os.environ.get("PYTHONPATH")])
)


def interleave(cases: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Run each case once per round, alternating, and return the median figure of each."""
    results: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            results[name].append(case())
    return {name: statistics.median(values) for name, values in results.items()}


def table(title: str, unit: str, figures: dict[str, float], baseline: str | None = None) -> None:
    print(f"\n{title} ({unit}, median)")
    for name, value in figures.items():
        ratio = f"   {value / figures[baseline]:.2f}x {baseline}" if baseline and name != baseline else ""
        print(f"  {name:<34} {value:>10.1f}{ratio}")
