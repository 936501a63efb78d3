"""FluxJobExecutor speed on the mock flux: ours vs executorlib's FluxJobExecutor on the same mock, same run,
interleaved.

    python benchmarks/flux_executor.py [--rounds 5] [--calls 40] [--tasks 20000]

Figures:

* one flux job per call (calls/s, ``max_cores=4``, trivial calls);
* construction to first result (ms), next to a bare job's submit -> ``start`` event through ``flux.job.FluxExecutor``;
* block allocation (trivial tasks/s, 2 workers);
* a worker killed by SIGKILL -> its future failed (ms; the issue's bound is 2 s).

The instance is a fresh ``MockFlux`` (1 node, 4 cores) activated in this process, so both executors import the
mock's ``flux`` package; inside a real flux instance (``FLUX_URI`` set and the bindings importable) pass
``--real`` to measure that one instead.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))
from common import interleave, table  # noqa: E402
from tasks import inc  # noqa: E402

import executor  # noqa: E402

try:
    import executorlib
except ImportError:  # pragma: no cover
    executorlib = None


@contextlib.contextmanager
def instance(real: bool, root: Path) -> Iterator[str]:
    if real:
        yield "real"
        return
    from pytest_executorlib.mocks.flux.instance import MockFlux

    with MockFlux(root / "flux", nodes=1, cores_per_node=4) as mock:
        mock.activate()
        yield "mock"


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


def suicide(path: str) -> None:
    """Note the time, then die as by SIGKILL (runs in the worker; pickled by value from __main__)."""
    import os
    import signal
    import time

    with open(path, "w") as file:
        file.write(repr(time.time()))
    os.kill(os.getpid(), signal.SIGKILL)


def death_to_failure(make: Callable[[], Any], path: str) -> float:
    """A worker killed by SIGKILL -> its future failed (ms): the issue's bound is 2 s."""
    with make() as ex:
        future = ex.submit(suicide, path)
        try:
            future.result(60)
        except Exception:
            failed = time.time()
        else:
            raise AssertionError("the call of a killed worker returned")
        with open(path) as file:
            return (failed - float(file.read())) * 1000


def bare_job_start(flux_executor: Any) -> float:
    """submit -> start event of a ``true`` job (ms)."""
    import flux.job

    started = threading.Event()
    start = time.perf_counter()
    future = flux_executor.submit(flux.job.JobspecV1.from_command(["true"]))
    future.add_event_callback("start", lambda *_: started.set())
    assert started.wait(60), "the bare job did not start within 60 s"
    elapsed = time.perf_counter() - start
    future.result(60)
    return elapsed * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--real", action="store_true", help="measure the enclosing real flux instance instead of a mock")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xlib-bench-") as tmp, instance(args.real, Path(tmp)) as kind:
        os.chdir(tmp)  # executorlib writes files in the cwd
        import flux.job

        bare = flux.job.FluxExecutor()
        ours_call = lambda: executor.FluxJobExecutor(max_cores=4)  # noqa: E731
        ours_block = lambda: executor.FluxJobExecutor(max_workers=2, block_allocation=True)  # noqa: E731
        calls: dict[str, Callable[[], float]] = {"ours one job per call": lambda: per_call(ours_call, args.calls)}
        first: dict[str, Callable[[], float]] = {
            "bare job submit -> start": lambda: bare_job_start(bare),
            "ours one job per call": lambda: first_result(ours_call),
        }
        blocks: dict[str, Callable[[], float]] = {"ours block_allocation": lambda: block(ours_block, args.tasks)}
        death = os.path.join(tmp, "death")
        deaths: dict[str, Callable[[], float]] = {
            "ours one job per call": lambda: death_to_failure(ours_call, death),
            "ours block_allocation": lambda: death_to_failure(ours_block, death),
        }
        if executorlib is not None:
            lib_call = lambda: executorlib.FluxJobExecutor(max_cores=4)  # noqa: E731
            lib_block = lambda: executorlib.FluxJobExecutor(max_workers=2, block_allocation=True)  # noqa: E731
            calls["executorlib one job per call"] = lambda: per_call(lib_call, max(4, args.calls // 5))
            first["executorlib one job per call"] = lambda: first_result(lib_call)
            blocks["executorlib block_allocation"] = lambda: block(lib_block, max(500, args.tasks // 4))
        print(f"{kind} flux, python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.rounds} interleaved rounds")
        try:
            table("one flux job per call", "calls/s", interleave(calls, args.rounds), "executorlib one job per call" if executorlib else None)
            table("construction to first result", "ms", interleave(first, args.rounds), "bare job submit -> start")
            table("block allocation", "tasks/s", interleave(blocks, args.rounds), "executorlib block_allocation" if executorlib else None)
            table("worker killed -> its future failed (bound: 2000)", "ms", interleave(deaths, args.rounds))
        finally:
            bare.shutdown(wait=True)


if __name__ == "__main__":
    main()
