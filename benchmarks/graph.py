"""Cost of call recording (pytest --xlib-graph) on the front end, measured in the same run, interleaved.

    python benchmarks/graph.py [--rounds 7] [--tasks 20000]

Block-allocation throughput of trivial tasks (2 workers) and the parent's CPU time per task, without a
call log (the default: the front end only tests two attributes per submit) and with one (what the executor
fixtures do under --xlib-graph: one record and one done-callback per call).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import interleave, table  # noqa: E402
from tasks import inc  # noqa: E402

import executor  # noqa: E402
from executor.graph import CallLog, recording  # noqa: E402


def run(record: bool, n: int, cpu: dict[str, list[float]]) -> float:
    with recording(CallLog()) if record else contextlib.nullcontext():
        ex = executor.SingleNodeExecutor(max_workers=2, block_allocation=True)
    with ex:
        ex.submit(inc, 0).result()
        start, start_cpu = time.perf_counter(), time.process_time()
        futures = [ex.submit(inc, i) for i in range(n)]
        for future in futures:
            future.result()
        elapsed = time.perf_counter() - start
        cpu["on" if record else "off"].append((time.process_time() - start_cpu) / n * 1e6)
        return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--tasks", type=int, default=20000)
    args = parser.parse_args()
    cpu: dict[str, list[float]] = {"off": [], "on": []}
    figures = interleave(
        {
            "no call log (default)": lambda: run(False, args.tasks, cpu),
            "call log (--xlib-graph)": lambda: run(True, args.tasks, cpu),
        },
        args.rounds,
    )
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.rounds} interleaved rounds")
    table("block allocation throughput", "tasks/s", figures, baseline="no call log (default)")
    per_task = {name: sorted(values)[len(values) // 2] for name, values in cpu.items()}
    table("parent CPU time per task", "us", {"no call log (default)": per_task["off"], "call log (--xlib-graph)": per_task["on"]}, baseline="no call log (default)")


if __name__ == "__main__":
    main()
