"""End-to-end cache speed, ours vs executorlib, in the same run, interleaved: 500 trivial calls, 2 block workers,
first into an empty cache directory (cold), then again (all hits).

    python benchmarks/cache.py [--rounds 5] [--calls 500]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import interleave, table  # noqa: E402
from tasks import inc  # noqa: E402

import executor  # noqa: E402

try:
    import executorlib
except ImportError:  # pragma: no cover
    executorlib = None


def run(module, calls: int, phase: str) -> float:
    directory = tempfile.mkdtemp(prefix="xlib-bench-cache-")
    try:
        with module.SingleNodeExecutor(max_workers=2, block_allocation=True, cache_directory=directory) as ex:
            ex.submit(inc, -1).result()  # workers up
            rates = []
            for _ in range(2):  # cold, then all hits
                start = time.perf_counter()
                futures = [ex.submit(inc, i) for i in range(calls)]
                assert [f.result() for f in futures] == [i + 1 for i in range(calls)]
                rates.append(calls / (time.perf_counter() - start))
        return rates[0] if phase == "cold" else rates[1]
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    modules = {"ours": executor}
    if executorlib is not None:
        modules["executorlib"] = executorlib
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.rounds} interleaved rounds, {args.calls} calls")
    for phase in ("cold", "hits"):
        cases = {name: (lambda m=m, p=phase: run(m, args.calls, p)) for name, m in modules.items()}
        table(f"cache {phase}", "calls/s", interleave(cases, args.rounds), "executorlib" if executorlib else None)


if __name__ == "__main__":
    main()
