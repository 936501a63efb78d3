"""Local executor speed, ours vs executorlib vs concurrent.futures, measured in the same run, interleaved.

    python benchmarks/throughput.py [--rounds 5]

Figures: block-allocation throughput (trivial tasks/s, 2 workers), one-process-per-call throughput (calls/s,
each call in a fresh process), and time from construction to the first result (ms) in a process that already
built executors (warm; ``startup.py`` measures it cold and warm).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.dirname(__file__))
from common import interleave, table  # noqa: E402
from tasks import inc  # noqa: E402

import executor  # noqa: E402

try:
    import executorlib
except ImportError:  # pragma: no cover
    executorlib = None


def throughput(make, n: int) -> float:
    with make() as ex:
        ex.submit(inc, 0).result()  # workers up
        start = time.perf_counter()
        futures = [ex.submit(inc, i) for i in range(n)]
        for f in futures:
            f.result()
        return n / (time.perf_counter() - start)


def first_result(make) -> float:
    start = time.perf_counter()
    with make() as ex:
        ex.submit(inc, 1).result()
        elapsed = time.perf_counter() - start
    return elapsed * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    ours_block = lambda: executor.SingleNodeExecutor(max_workers=2, block_allocation=True)  # noqa: E731
    ours_call = lambda: executor.SingleNodeExecutor(max_workers=2)  # noqa: E731
    pool = lambda: ProcessPoolExecutor(max_workers=2)  # noqa: E731
    block = {
        "ours block_allocation": lambda: throughput(ours_block, args.tasks),
        "ProcessPoolExecutor": lambda: throughput(pool, args.tasks),
    }
    per_call = {"ours one-process-per-call": lambda: throughput(ours_call, args.calls)}
    first = {
        "ours one-process-per-call": lambda: first_result(ours_call),
        "ours block_allocation": lambda: first_result(ours_block),
        "ProcessPoolExecutor": lambda: first_result(pool),
    }
    if executorlib is not None:
        lib_block = lambda: executorlib.SingleNodeExecutor(max_workers=2, block_allocation=True)  # noqa: E731
        lib_call = lambda: executorlib.SingleNodeExecutor(max_workers=2)  # noqa: E731
        block["executorlib block_allocation"] = lambda: throughput(lib_block, max(500, args.tasks // 4))
        per_call["executorlib one-process-per-call"] = lambda: throughput(lib_call, max(20, args.calls // 10))
        first["executorlib one-process-per-call"] = lambda: first_result(lib_call)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.rounds} interleaved rounds")
    table("block allocation throughput", "tasks/s", interleave(block, args.rounds), "ProcessPoolExecutor")
    calls = interleave(per_call, args.rounds)
    table("one process per call", "calls/s", calls, "executorlib one-process-per-call" if executorlib else None)
    table("warm: construction to first result", "ms", interleave(first, args.rounds), "ProcessPoolExecutor")


if __name__ == "__main__":
    main()
