"""FluxClusterExecutor on the mock flux (pysqa's flux adapter unchanged): one flux batch job per call,
dependencies, flux's ended states F / TO / CA failing the future at once, reconnecting, cancelling."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clusterfns import add, slow, total

from executor import FluxClusterExecutor
from executor.schedulers.files import QueueJobError

mock = pytest.importorskip("pytest_executorlib.mocks.flux", reason="the mock flux (branch fluxmock) is not merged yet")


@pytest.fixture
def flux(tmp_path: Path) -> Iterator[object]:
    with mock.MockFlux(tmp_path / "flux", nodes=1, cores_per_node=4) as instance:
        instance.activate()
        yield instance


def batches(flux) -> int:  # type: ignore[no-untyped-def]
    return len([c for c in flux.calls() if c.argv[:1] == ["batch"]])


def wait_jobs(flux, count: int) -> None:  # type: ignore[no-untyped-def]
    deadline, delay = time.monotonic() + 60, 0.01
    while len(flux.jobs()) < count:
        assert time.monotonic() < deadline, f"{count} jobs expected, got {flux.jobs()}"
        time.sleep(delay)
        delay = min(0.2, delay * 2)


def test_calls_and_several_parents(flux, cache: str) -> None:
    with FluxClusterExecutor(cache_directory=cache) as exe:
        a, b = exe.submit(add, 1, 2), exe.submit(add, 10, 20)
        assert exe.submit(total, a, b, 100).result(timeout=60) == 133
    assert batches(flux) == 3
    parents = sorted(int(j.id) for j in flux.jobs())[:2]
    script = next(Path(cache).glob("total*/run_queue.sh")).read_text()
    # one directive per parent: flux has no comma rule, every parent must succeed
    assert sorted(line for line in script.splitlines() if "--dependency" in line) == sorted(f"# flux: --dependency=afterok:{j}" for j in parents)


@pytest.mark.parametrize(("kind", "value", "state"), [("timeout", 1, "TO"), ("exit", 3, "F"), ("no_output", None, "F"), ("nodefail", 1, "F")])
def test_a_job_ending_without_output_fails_naming_its_state(flux, cache: str, kind: str, value: object, state: str) -> None:
    flux.fault_next(kind, value)
    with FluxClusterExecutor(cache_directory=cache) as exe:
        future = exe.submit(slow, 1, 30)
        with pytest.raises(QueueJobError, match=rf"queue job \d+ .*final state: {state}\b"):
            future.result(timeout=60)


def test_cancelling_a_future_cancels_the_flux_job(flux, cache: str) -> None:
    flux.hold_new_jobs(True)
    exe = FluxClusterExecutor(cache_directory=cache)
    future = exe.submit(add, 1, 1)
    wait_jobs(flux, 1)
    assert future.cancel()
    exe.shutdown()
    assert flux.wait(flux.jobs()[0].id).result == "CANCELED"


def test_wait_false_and_reconnect_without_a_new_batch(flux, cache: str) -> None:
    flux.hold_new_jobs(True)
    exe = FluxClusterExecutor(cache_directory=cache, wait=False)
    exe.submit(add, 2, 2)
    wait_jobs(flux, 1)
    exe.shutdown()
    flux.hold_new_jobs(False)
    with FluxClusterExecutor(cache_directory=cache) as again:
        future = again.submit(add, 2, 2)
        flux.release()
        assert future.result(timeout=60) == 4
    assert batches(flux) == 1
