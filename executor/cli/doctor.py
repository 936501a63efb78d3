"""``python -m executor doctor``: check this machine for the problems executorlib's troubleshooting page lists.

Each check prints ``ok``, ``warn`` or ``FAIL`` with what was found and, when something is wrong, what to do.
The exit status is 1 if a check failed (e.g. workers cannot be reached), else 0.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from typing import TextIO

Check = Callable[[], tuple[str, str]]


def _workers() -> tuple[str, str]:
    """Start an executor, run one call in a worker over loopback, and time it."""
    from executor import SingleNodeExecutor

    start = time.perf_counter()
    try:
        with SingleNodeExecutor(max_workers=1) as ex:
            pid = ex.submit(os.getpid).result(timeout=60)
    except Exception as error:
        return "FAIL", f"a worker could not run a call: {error!r}"
    elapsed = (time.perf_counter() - start) * 1000
    if pid == os.getpid():
        return "FAIL", "the call ran in this process, not in a worker"
    return "ok", f"a worker ran a call over loopback (127.0.0.1) in {elapsed:.0f} ms; no host name or firewall involved"


def _cores() -> tuple[str, str]:
    from executor.host import usable_cores

    usable = usable_cores()
    total = os.cpu_count() or usable
    detail = f"{usable} CPU cores usable by this process ({total} on the machine): the default max_cores"
    return ("ok" if usable > 1 else "warn"), detail + ("" if usable > 1 else "; calls will run one at a time")


def _mpi() -> tuple[str, str]:
    from executor.spawners import mpiexec

    try:
        mpiexec.require_mpi()
        path, flavour = mpiexec.find_mpiexec()
    except ImportError as error:
        return "warn", f"cores > 1 (MPI) unavailable: {error}"
    return "ok", f"MPI available: {flavour} mpiexec at {path}, mpi4py installed"


def _extra(module: str, extra: str, purpose: str) -> Check:
    def check() -> tuple[str, str]:
        if importlib.util.find_spec(module) is None:
            return "warn", f"{purpose} unavailable: pip install 'pytest-executorlib[{extra}]'"
        return "ok", f"{purpose} available ({module} installed)"

    return check


def _coverage() -> tuple[str, str]:
    from executor.host import COVERAGE_OPT_OUT_VARIABLE, coverage_opted_out

    if coverage_opted_out():  # the same values the executor accepts: 0, false, no, off
        value = os.environ.get(COVERAGE_OPT_OUT_VARIABLE, "")
        return "ok", f"worker coverage switched off by {COVERAGE_OPT_OUT_VARIABLE}={value}"
    if importlib.util.find_spec("coverage") is None:
        return "ok", "coverage not installed: workers run unmeasured (install it to measure them)"
    return "ok", "workers are measured automatically whenever this process runs under coverage"


def _stray_caches(root: str) -> Check:
    def check() -> tuple[str, str]:
        from executor.cli.cache import find_caches

        found = find_caches(root)
        if not found:
            return "ok", f"no cache directories under {root}"
        names = ", ".join(os.path.relpath(c.path, root) for c in found[:5])
        more = f" and {len(found) - 5} more" if len(found) > 5 else ""
        return "warn", f"{len(found)} cache director(ies) under {root}: {names}{more}; see: python -m executor cache find"

    return check


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("doctor", help="check this machine for common problems", description=__doc__)
    parser.add_argument("root", nargs="?", default=".", help="tree to search for forgotten cache directories")


def run(args: argparse.Namespace, out: TextIO) -> int:
    checks: list[tuple[str, Check]] = [
        ("workers", _workers),
        ("cores", _cores),
        ("mpi", _mpi),
        ("cache", _extra("h5py", "cache", "the HDF5 result cache")),
        ("queues", _extra("pysqa", "cluster", "SLURM/flux queue submission (pysqa)")),
        ("coverage", _coverage),
        ("leftovers", _stray_caches(os.path.abspath(args.root))),
    ]
    failed = False
    for name, check in checks:
        try:
            status, detail = check()
        except Exception as error:  # a broken check is a finding, not a crash
            status, detail = "FAIL", f"the check itself failed: {error!r}"
        failed |= status == "FAIL"
        print(f"{status:<4} {name:<9} {detail}", file=out)
    print(f"python {sys.version.split()[0]} at {sys.executable}", file=out)
    return 1 if failed else 0
