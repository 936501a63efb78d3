"""Storage-level cache figures: pytest-executorlib vs executorlib's own HDF5 functions, same run, interleaved.

    /work/venv/bin/python benchmarks/cache_storage.py [--calls 500] [--rounds 7] [--dir /tmp]

Each round runs every variant once over ``--calls`` distinct trivial calls (``add(i, y=1)`` with ``add``
defined in this script, so cloudpickle pickles it by value, as for user code in a notebook or script);
variants alternate inside a round so that disk and CPU noise hits all of them alike; the median over rounds is
reported.  Variants:

* write: store one result file per call.  executorlib: ``dump`` (pickles, h5py, gzip).  ours: pickling the
  same six values + ``store_output`` (hand-written HDF5 image, temp file + rename).
* hit read: read the output of an existing file.  executorlib: ``get_output``; ours: ``load_output``.
* hit path: what an executor does for one all-hits call -- key + lookup + read.  executorlib (interactive
  executors): ``serialize_funct`` + ``get_cache_files`` (walks the directory!) + ``get_output``;
  ours: ``task_key`` + ``output_path`` + ``load_output``.
* ours reading executorlib's files (h5py slow path), to show what interop costs.
* the key alone: ``task_key`` (pickles the call) vs ``key_from_blob`` when the executor already holds
  ``cloudpickle.dumps({"fn": fn, "args": args, "kwargs": kwargs})`` (e.g. as its worker payload).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable

import cloudpickle

from executor.cache import paths
from executor.cache.key import call_blob, key_from_blob, task_key
from executor.cache.store import load_output, pickle_value, store_output


def add(x, y=0):
    return x + y


def _rate(n: int, fn: Callable[[int], object]) -> float:
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--dir", default=None, help="Parent directory of the scratch caches")
    opts = parser.parse_args()
    from executorlib.standalone.hdf import dump, get_cache_files, get_output
    from executorlib.standalone.serialize import serialize_funct

    n = opts.calls
    results: dict[str, list[float]] = {}
    for round_no in range(opts.rounds):
        root = tempfile.mkdtemp(prefix="xlib-bench-", dir=opts.dir)
        theirs, ours = os.path.join(root, "executorlib"), os.path.join(root, "ours")
        os.makedirs(theirs)
        os.makedirs(ours)
        their_keys = [serialize_funct(add, (i,), {"y": 1}, {})[0] for i in range(n)]
        our_keys = [task_key(add, (i,), {"y": 1}) for i in range(n)]
        assert their_keys == our_keys

        def their_write(i: int) -> None:
            dump(paths.output_path(theirs, their_keys[i]), {"fn": add, "args": (i,), "kwargs": {"y": 1},
                                                            "resource_dict": {}, "output": i + 1, "runtime": 0.001})

        def our_write(i: int) -> None:
            store_output(paths.output_path(ours, our_keys[i]), pickle_value(i + 1), function=pickle_value(add),
                         input_args=pickle_value((i,)), input_kwargs=pickle_value({"y": 1}),
                         resource_dict=pickle_value({}), runtime=pickle_value(0.001), function_name="add")

        def their_read(i: int) -> None:
            assert get_output(paths.output_path(theirs, their_keys[i]))[2] == i + 1

        def our_read(i: int) -> None:
            assert load_output(paths.output_path(ours, our_keys[i]))[1] == i + 1

        def our_read_theirs(i: int) -> None:
            assert load_output(paths.output_path(theirs, their_keys[i]))[1] == i + 1

        def their_hit_path(i: int) -> None:
            key = serialize_funct(add, (i,), {"y": 1}, {})[0]
            name = os.path.abspath(paths.output_path(theirs, key))
            assert name in get_cache_files(theirs)
            assert get_output(name)[2] == i + 1

        def our_hit_path(i: int) -> None:
            assert load_output(paths.output_path(ours, task_key(add, (i,), {"y": 1}))) == (True, i + 1)

        order = [("write/s executorlib", their_write), ("write/s ours", our_write)]
        if round_no % 2:
            order.reverse()
        for label, fn in order:
            results.setdefault(label, []).append(_rate(n, fn))
        reads = [
            ("hit read/s executorlib", their_read),
            ("hit read/s ours", our_read),
            ("hit path/s executorlib (key+walk+read)", their_hit_path),
            ("hit path/s ours (key+lookup+read)", our_hit_path),
            ("hit read/s ours on executorlib files", our_read_theirs),
        ]
        blobs = [call_blob(add, (i,), {"y": 1}) for i in range(n)]
        reads += [
            ("key/s task_key (pickles the call)", lambda i: task_key(add, (i,), {"y": 1})),
            ("key/s key_from_blob (call already pickled)", lambda i: key_from_blob(add, blobs[i])),
        ]
        if round_no % 2:
            reads.reverse()
        for label, fn in reads:
            results.setdefault(label, []).append(_rate(n, fn))
        sizes = {name: statistics.mean(os.path.getsize(p) for p in paths.iter_cache_files(d))
                 for name, d in (("executorlib", theirs), ("ours", ours))}
        shutil.rmtree(root)

    print(f"{n} calls x {opts.rounds} rounds, medians (cloudpickle {cloudpickle.__version__})")
    width = max(map(len, results))
    for label, rates in results.items():
        print(f"  {label:<{width}}  {statistics.median(rates):>10,.0f}")
    for label, ratio in (("write", ("write/s ours", "write/s executorlib")),
                         ("hit read", ("hit read/s ours", "hit read/s executorlib")),
                         ("hit path", ("hit path/s ours (key+lookup+read)", "hit path/s executorlib (key+walk+read)"))):
        print(f"  speed-up {label}: {statistics.median(results[ratio[0]]) / statistics.median(results[ratio[1]]):.1f}x")
    print(f"  mean file size: executorlib {sizes['executorlib']:.0f} B, ours {sizes['ours']:.0f} B")


if __name__ == "__main__":
    main()
