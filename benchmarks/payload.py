"""Big payloads: a NumPy argument of ``--mb`` MB (default 200) through one call, ours vs executorlib vs
ProcessPoolExecutor, interleaved; each sample in a fresh process.

    python benchmarks/payload.py [--rounds 5] [--mb 200] [--mode block|per_call]

Two calls: ``echo`` (the array goes to the worker and comes back; the caller then holds the argument and the
result, so 2.0x the payload is the least possible) and ``total`` (the array goes one way, a float comes back;
1.0x is the least).  Figures: the round trip (submit to result, ms) and the parent's peak memory during it
in multiples of the payload: peak RSS (``VmHWM``, reset through ``/proc/self/clear_refs`` once the executor is
warm) minus the RSS before the payload was allocated.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402,F401  (PATH/PYTHONPATH for executorlib's workers)
from tasks import echo_array, total_array  # noqa: E402

CALLS = {"echo": echo_array, "total": total_array}


def _status(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _make(implementation: str, mode: str):
    block = mode == "block"
    if implementation == "ours":
        import executor

        return executor.SingleNodeExecutor(max_workers=1, block_allocation=block)
    if implementation == "executorlib":
        import executorlib

        return executorlib.SingleNodeExecutor(max_workers=1, block_allocation=block)
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=1)


def sample(implementation: str, call: str, mode: str, megabytes: int) -> dict[str, float]:
    """One measurement in this (fresh) process."""
    import numpy

    fn = CALLS[call]
    with _make(implementation, mode) as ex:
        ex.submit(fn, numpy.ones(8)).result(timeout=120)  # warm: imports, worker started
        before = _status("VmRSS")
        payload = numpy.random.default_rng(0).random(megabytes * 1_000_000 // 8)
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # VmHWM := VmRSS
        start = time.perf_counter()
        result = ex.submit(fn, payload).result(timeout=600)
        elapsed = time.perf_counter() - start
        peak = _status("VmHWM")
        if call == "echo":
            assert result.shape == payload.shape and result.flags.writeable and result[-1] == payload[-1]
    return {"ms": elapsed * 1000, "peak": (peak - before) / payload.nbytes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--mode", choices=["block", "per_call"], default="block")
    parser.add_argument("--sample", nargs=2, metavar=("IMPLEMENTATION", "CALL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sample:
        print(json.dumps(sample(*args.sample, args.mode, args.mb)))
        return
    implementations = ["ours", "executorlib", "ProcessPoolExecutor"]
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    for _ in range(args.rounds):
        for call in CALLS:
            for implementation in implementations:
                command = [sys.executable, __file__, "--mb", str(args.mb), "--mode", args.mode, "--sample", implementation, call]
                out = subprocess.run(command, check=True, capture_output=True, text=True, timeout=900).stdout
                results.setdefault((call, implementation), []).append(json.loads(out.splitlines()[-1]))
    print(f"\n{args.mb} MB NumPy argument, {args.mode} mode, {args.rounds} interleaved rounds (medians)")
    print(f"  {'call':<6} {'implementation':<20} {'round trip ms':>14} {'vs executorlib':>15} {'parent peak':>12}")
    for (call, implementation), samples in results.items():
        ms = statistics.median(s["ms"] for s in samples)
        peak = statistics.median(s["peak"] for s in samples)
        reference = statistics.median(s["ms"] for s in results[(call, "executorlib")])
        print(f"  {call:<6} {implementation:<20} {ms:>14.0f} {ms / reference:>14.2f}x {peak:>11.2f}x")


if __name__ == "__main__":
    main()
