"""Cost of measuring workers with coverage: worker start-up and per-call cost, with and without, interleaved.

    python benchmarks/worker_coverage.py [--rounds 7] [--calls 40] [--loop 20000]

"with coverage": this process starts a ``coverage.Coverage`` (source: this directory) around the executor's
construction only, so its workers are measured while the benchmark's own timing loop is not traced;
"without": nothing runs coverage, and workers never import it.  Figures, medians of interleaved rounds:

* construction to first result (ms), one-process-per-call and block allocation, in this process that already
  built executors (warm; ``startup.py`` measures it cold and warm) — target with coverage ≤ 100;
* one-process-per-call throughput (calls/s): every call is a fresh worker that starts and saves coverage;
* a trivial task through a block worker's call path (unpickle, call, pickle), timed inside the worker (µs)
  — target with coverage ≤ 2x without;
* a trivial function called in a tight loop inside a block worker (ns): tracing cost of measured code;
* a trivial call's round trip through a block worker (µs).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
import glob
import os
import sys
import tempfile
import time

import coverage

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
from common import interleave, table  # noqa: E402
from tasks import inc  # noqa: E402

import executor  # noqa: E402


def time_inc(n: int) -> float:
    """Seconds per call of a trivial function, timed inside the worker."""
    start = time.perf_counter()
    for i in range(n):
        inc(i)
    return (time.perf_counter() - start) / n


def time_task(n: int) -> float:
    """Seconds per trivial task through the worker's own call path (unpickle, call, pickle the result)."""
    import pickle

    from executor.worker.calls import run

    payload = pickle.dumps((inc, (1,), {}), protocol=5)
    start = time.perf_counter()
    for _ in range(n):
        run(payload, {})
    return (time.perf_counter() - start) / n


class Measured:
    """Build executors with or without this process measured at construction (which is when it counts)."""

    def __init__(self, data_dir: str) -> None:
        self.data_dir = data_dir
        self.cov = coverage.Coverage(data_file=os.path.join(data_dir, ".coverage"), source=[_HERE])
        self.cov._warn_no_data = False  # the parent itself runs nothing measured

    def make(self, measured: bool, **kwargs: object) -> executor.SingleNodeExecutor:
        if not measured:
            return executor.SingleNodeExecutor(**kwargs)  # type: ignore[arg-type]
        self.cov.start()
        try:
            return executor.SingleNodeExecutor(**kwargs)  # type: ignore[arg-type]
        finally:
            self.cov.stop()

    def clean(self) -> None:
        for path in glob.glob(os.path.join(self.data_dir, ".coverage*")):
            os.remove(path)


def first_result(m: Measured, measured: bool, block: bool) -> float:
    start = time.perf_counter()
    with m.make(measured, max_workers=1, block_allocation=block) as ex:
        ex.submit(inc, 1).result()
        elapsed = time.perf_counter() - start
    m.clean()
    return elapsed * 1000


def per_call_throughput(m: Measured, measured: bool, calls: int) -> float:
    with m.make(measured, max_workers=2) as ex:
        ex.submit(inc, 0).result()
        start = time.perf_counter()
        for f in [ex.submit(inc, i) for i in range(calls)]:
            f.result()
        rate = calls / (time.perf_counter() - start)
    m.clean()
    return rate


def timed_in_worker(timer: Callable[[int], float], scale: float) -> Callable[[Measured, bool, int], float]:
    """A case that runs ``timer(loop)`` (which times itself) inside a warmed-up block worker, in ``scale`` units."""

    def case(m: Measured, measured: bool, loop: int) -> float:
        with m.make(measured, max_workers=1, block_allocation=True) as ex:
            ex.submit(timer, 100).result()
            seconds = ex.submit(timer, loop).result()
        m.clean()
        return seconds * scale

    return case


in_worker = timed_in_worker(time_inc, 1e9)  # ns per call of a trivial function
task_in_worker = timed_in_worker(time_task, 1e6)  # µs per unpickle + call + pickle


def round_trip(m: Measured, measured: bool, calls: int) -> float:
    with m.make(measured, max_workers=1, block_allocation=True) as ex:
        ex.submit(inc, 0).result()
        start = time.perf_counter()
        for i in range(calls):
            ex.submit(inc, i).result()
        seconds = (time.perf_counter() - start) / calls
    m.clean()
    return seconds * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=40, help="one-process-per-call calls per round")
    parser.add_argument("--loop", type=int, default=20000, help="trivial calls timed inside the worker")
    parser.add_argument("--trips", type=int, default=500, help="sequential round trips per round")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xlib-cov-bench-") as data_dir:
        m = Measured(data_dir)
        print(f"python {sys.version.split()[0]}, coverage {coverage.__version__}, {os.cpu_count()} CPUs, "
              f"{args.rounds} interleaved rounds")
        first = interleave(
            {
                "per call, without coverage": lambda: first_result(m, False, False),
                "per call, with coverage": lambda: first_result(m, True, False),
                "block, without coverage": lambda: first_result(m, False, True),
                "block, with coverage": lambda: first_result(m, True, True),
            },
            args.rounds,
        )
        table("warm: construction to first result", "ms", first)
        for title, unit, measure, n in (
            ("one process per call", "calls/s", per_call_throughput, args.calls),
            ("trivial function called inside a block worker", "ns", in_worker, args.loop),
            ("trivial task run by a block worker (unpickle, call, pickle)", "µs", task_in_worker, args.loop),
            ("trivial call round trip, block worker", "µs", round_trip, args.trips),
        ):
            cases = {
                "without coverage": lambda f=measure, n=n: f(m, False, n),
                "with coverage": lambda f=measure, n=n: f(m, True, n),
            }
            table(title, unit, interleave(cases, args.rounds), "without coverage")

if __name__ == "__main__":
    main()
