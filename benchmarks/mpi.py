"""Time to the first result of a 2-rank MPI call, ours vs executorlib, in the same run, interleaved.

    python benchmarks/mpi.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import interleave, table  # noqa: E402
from tasks import mpi_rank  # noqa: E402

import executor  # noqa: E402

try:
    import executorlib
except ImportError:  # pragma: no cover
    executorlib = None


def first_result(make) -> float:
    start = time.perf_counter()
    with make() as ex:
        result = ex.submit(mpi_rank, 0, resource_dict={"cores": 2}).result(timeout=120)
        elapsed = time.perf_counter() - start
    assert result == [0, 1], result
    return elapsed * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cases = {"ours": lambda: first_result(lambda: executor.SingleNodeExecutor(max_cores=2))}
    if executorlib is not None:
        cases["executorlib"] = lambda: first_result(lambda: executorlib.SingleNodeExecutor(max_cores=2))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.rounds} interleaved rounds")
    table("construction to first result of a 2-rank MPI call", "ms", interleave(cases, args.rounds), "executorlib" if executorlib else None)


if __name__ == "__main__":
    main()
