"""SlurmJobExecutor speed on a real SLURM: ours vs executorlib's vs concurrent.futures, same run, interleaved.

    python benchmarks/slurm_executor.py [--rounds 5] [--mock]

Figures (targets from issue 10):

* one srun per call (calls/s, ``max_cores=4``, trivial calls): ours >= 4x executorlib's SlurmJobExecutor;
* construction to first result (ms): ours <= bare ``srun -n1 true`` + 40 ms;
* block allocation (trivial tasks/s, 2 workers): ours >= 1.5x ``ProcessPoolExecutor(2)``.

The SLURM is the one ``SLURM_CONF`` names, else ci/start-slurm.sh's (/tmp/xlib-slurm); ``--mock`` measures a fresh
``MockSlurm`` (1 node, 4 CPUs) instead.  The real cluster may be shared: pending jobs of others slow every
figure alike (they are printed first).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))
from common import interleave, table  # noqa: E402
from tasks import inc  # noqa: E402

import executor  # noqa: E402
from pytest_executorlib.slurm_probe import probe_sinfo  # noqa: E402

try:
    import executorlib
except ImportError:  # pragma: no cover
    executorlib = None

CI_CONF = Path(os.environ.get("XLIB_SLURM_DIR", "/tmp/xlib-slurm")) / "slurm.conf"


@contextlib.contextmanager
def slurm(mock: bool, root: Path) -> Iterator[str]:
    """Apply a SLURM's environment to this process (executors and their sruns read it); yields its kind."""
    if mock:
        from pytest_executorlib.mocks.slurm import MockSlurm

        with MockSlurm(root / "mock", nodes=1, cpus_per_node=4) as cluster:
            saved = dict(os.environ)
            os.environ.update(cluster.environ())
            try:
                yield "mock"
            finally:
                os.environ.clear()
                os.environ.update(saved)
        return
    if "SLURM_CONF" not in os.environ and CI_CONF.is_file():
        os.environ["SLURM_CONF"] = str(CI_CONF)
    answer = probe_sinfo()
    if not answer.ok:
        raise SystemExit(f"no real SLURM answers ({answer.detail}); start one with: bash ci/start-slurm.sh")
    pending = subprocess.run(["squeue", "--noheader", "--format=%A %t %C %R"], capture_output=True, text=True, timeout=30)
    print(f"other jobs on the cluster (id state cpus reason): {pending.stdout.split(chr(10))[:6]}")
    yield "real"


def per_call(make: Callable[[], Any], n: int) -> float:
    with make() as ex:
        ex.submit(inc, 0).result()
        start = time.perf_counter()
        for f in [ex.submit(inc, i) for i in range(n)]:
            f.result()
        return n / (time.perf_counter() - start)


def block(make: Callable[[], Any], n: int) -> float:
    with make() as ex:
        for f in [ex.submit(inc, i) for i in range(4)]:
            f.result()  # workers up
        start = time.perf_counter()
        for f in [ex.submit(inc, i) for i in range(n)]:
            f.result()
        return n / (time.perf_counter() - start)


def first_result(make: Callable[[], Any]) -> float:
    start = time.perf_counter()
    with make() as ex:
        ex.submit(inc, 1).result()
        elapsed = time.perf_counter() - start
    return elapsed * 1000


def bare_srun() -> float:
    start = time.perf_counter()
    done = subprocess.run(["srun", "-n1", "true"], capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    return elapsed * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--mock", action="store_true", help="measure the mock SLURM instead of a real one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xlib-bench-") as tmp, slurm(args.mock, Path(tmp)) as kind:
        os.chdir(tmp)  # executorlib writes files in the cwd
        ours_call = lambda: executor.SlurmJobExecutor(max_cores=4)  # noqa: E731
        ours_block = lambda: executor.SlurmJobExecutor(max_workers=2, block_allocation=True)  # noqa: E731
        pool = lambda: ProcessPoolExecutor(max_workers=2)  # noqa: E731
        calls: dict[str, Callable[[], float]] = {"ours one srun per call": lambda: per_call(ours_call, args.calls)}
        first: dict[str, Callable[[], float]] = {"bare srun -n1 true": bare_srun, "ours one srun per call": lambda: first_result(ours_call)}
        blocks: dict[str, Callable[[], float]] = {
            "ours block_allocation": lambda: block(ours_block, args.tasks),
            "ProcessPoolExecutor": lambda: block(pool, args.tasks),
        }
        if executorlib is not None:
            lib_call = lambda: executorlib.SlurmJobExecutor(max_cores=4)  # noqa: E731
            lib_block = lambda: executorlib.SlurmJobExecutor(max_workers=2, block_allocation=True)  # noqa: E731
            calls["executorlib one srun per call"] = lambda: per_call(lib_call, max(4, args.calls // 5))
            first["executorlib one srun per call"] = lambda: first_result(lib_call)
            blocks["executorlib block_allocation"] = lambda: block(lib_block, max(500, args.tasks // 4))
        print(f"{kind} SLURM, python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.rounds} interleaved rounds")
        table("one srun per call", "calls/s", interleave(calls, args.rounds), "executorlib one srun per call" if executorlib else None)
        table("construction to first result", "ms", interleave(first, args.rounds), "bare srun -n1 true")
        table("block allocation", "tasks/s", interleave(blocks, args.rounds), "ProcessPoolExecutor")


if __name__ == "__main__":
    main()
