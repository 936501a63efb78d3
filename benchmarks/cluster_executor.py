"""Cluster executors on the mock SLURM, ours vs executorlib's, in the same run, interleaved.

    python benchmarks/cluster_executor.py [--rounds 3] [--calls 100] [--chain 20] [--executorlib-death]

* ``independent``: ``--calls`` trivial calls (one batch job each) submitted at once, until every result is back.
* ``chain``: a ``--chain``-call dependency chain (each call takes the previous future).
* ``death``: a job killed by a node failure 1 s after it starts (``fault_next("nodefail", 1)``): seconds from the
  job's end (the mock's end time) to the failed future.  executorlib notices only at its next ``squeue``, every
  30 s per task, so it is measured only with ``--executorlib-death`` (once).

Every case gets a fresh cache directory on one fresh ``MockSlurm`` (1 node, 8 CPUs).  Target (issue 12):
``independent`` >= 2x faster than executorlib's ``SlurmClusterExecutor``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [HERE, os.environ.get("PYTHONPATH")]))  # for executorlib's jobs
from cluster_calls import inc, sleep_then  # noqa: E402
from common import interleave, table  # noqa: E402

from executor import SlurmClusterExecutor  # noqa: E402
from pytest_executorlib.mocks.slurm import MockSlurm  # noqa: E402

Factory = Callable[[str], Executor]


def independent(make: Factory, root: Path, calls: int) -> float:
    start = time.perf_counter()
    with make(tempfile.mkdtemp(dir=root)) as exe:
        futures = [exe.submit(inc, i) for i in range(calls)]
        assert [f.result(timeout=600) for f in futures] == [i + 1 for i in range(calls)]
    return time.perf_counter() - start


def chain(make: Factory, root: Path, length: int) -> float:
    start = time.perf_counter()
    with make(tempfile.mkdtemp(dir=root)) as exe:
        future: Any = exe.submit(inc, 0)
        for _ in range(length - 1):
            future = exe.submit(inc, future)
        assert future.result(timeout=600) == length
    return time.perf_counter() - start


def death(make: Factory, root: Path, cluster: MockSlurm) -> float:
    cluster.fault_next("nodefail", 1, command="sbatch")
    failed_at: list[float] = []
    done = threading.Event()
    with make(tempfile.mkdtemp(dir=root)) as exe:
        future = exe.submit(sleep_then, 1, 120)
        future.add_done_callback(lambda f: (failed_at.append(time.time()), done.set()))
        assert done.wait(300), "the future of a dead job never failed"
        assert future.exception() is not None
    job = max(cluster.jobs(), key=lambda j: j.id)
    return failed_at[0] - float(job.end_time)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--chain", type=int, default=20)
    parser.add_argument("--executorlib-death", action="store_true")
    args = parser.parse_args()
    import executorlib

    with tempfile.TemporaryDirectory() as tmp, MockSlurm(Path(tmp) / "slurm", nodes=1, cpus_per_node=8) as cluster:
        cluster.activate()
        root = Path(tmp)
        makers: dict[str, Factory] = {
            "ours": lambda d: SlurmClusterExecutor(cache_directory=d, resource_dict={"partition": "debug"}),
            "executorlib": lambda d: executorlib.SlurmClusterExecutor(cache_directory=d, resource_dict={"partition": "debug"}),
        }
        figures = interleave({name: (lambda m=m: independent(m, root, args.calls)) for name, m in makers.items()}, args.rounds)
        table(f"{args.calls} independent trivial calls, end to end", "s", figures, "executorlib")
        figures = interleave({name: (lambda m=m: chain(m, root, args.chain)) for name, m in makers.items()}, args.rounds)
        table(f"{args.chain}-call dependency chain", "s", figures, "executorlib")
        deaths = {"ours": lambda: death(makers["ours"], root, cluster)}
        figures = interleave(deaths, args.rounds)
        if args.executorlib_death:
            figures["executorlib"] = death(makers["executorlib"], root, cluster)
        table("job death -> failed future", "s", figures)


if __name__ == "__main__":
    main()
