"""``flux start``/``broker``, ``cancel``, ``job id``, ``resource list`` and ``getattr`` of the mock flux.

``flux start [--test-size=N] CMD`` creates an instance in ``$TMPDIR/flux-XXXXXX`` (shape: ``--test-size``
nodes, cores and GPUs per node from ``XLIB_MOCK_FLUX_SHAPE``, default ``1;4;0``), runs the broker in this
process with CMD as its initial program (``FLUX_URI=local://<dir>/local-0``), and exits with CMD's status
after cancelling what is left and removing the directory.  ``flux broker CMD`` (what batch and nested jobs
run) does the same on the job's allocation (``XLIB_MOCK_FLUX_ALLOC``).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from pytest_executorlib.mocks.flux.cli import CommandError, connect
from pytest_executorlib.mocks.flux.jobid import JobID, encode, parse

SHAPE_VARIABLE = "XLIB_MOCK_FLUX_SHAPE"


def _jobid_arg(text: str) -> JobID:
    try:
        return JobID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid JobID value: '{text}'") from None


def cancel(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="flux-cancel")
    p.add_argument("--all", action="store_true")
    p.add_argument("-m", "--message", default="")
    p.add_argument("ids", nargs="*", type=_jobid_arg)
    args = p.parse_args(argv)
    inst = connect("cancel")
    if args.all:
        ids = [JobID(i) for (i,) in inst.conn.execute("SELECT id FROM jobs WHERE state != 'INACTIVE'").fetchall()]
        for jobid in ids:
            inst.raise_exception(jobid, "cancel", 0, args.message)
        sys.stderr.write(f"flux-cancel: Canceled {len(ids)} jobs (0 errors)\n")
        return 0
    if not args.ids:
        p.error("the following arguments are required: jobids")
    rc = 0
    for jobid in args.ids:
        try:
            inst.raise_exception(jobid, "cancel", 0, args.message)
        except FileNotFoundError as exc:
            sys.stderr.write(f"flux-cancel: ERROR: {encode(int(jobid), 'f58')}: {exc.strerror}\n")
            rc = 1
    return rc


def job(argv: list[str]) -> int:
    if not argv or argv[0] != "id":
        raise CommandError(f"the mock flux implements only 'flux job id' (got {' '.join(argv) or 'nothing'})")
    p = argparse.ArgumentParser(prog="flux-job id")
    p.add_argument("--to", default="dec", choices=["dec", "hex", "dothex", "kvs", "f58", "f58plain", "words",
                                                    "emoji"])
    p.add_argument("--from", dest="from_", default="any")
    p.add_argument("ids", nargs="*")
    args = p.parse_args(argv[1:])
    rc = 0
    for text in args.ids or sys.stdin.read().split():
        value = parse(text)
        if value is None:
            sys.stderr.write(f"flux-job: {text}: malformed input\n")
            rc = 1
            continue
        try:
            sys.stdout.write(encode(value, args.to) + "\n")
        except NotImplementedError as exc:
            sys.stderr.write(f"flux-job: {exc}\n")
            rc = 1
    return rc


def resource(argv: list[str]) -> int:
    if not argv or argv[0] != "list":
        raise CommandError(f"the mock flux implements only 'flux resource list' (got {' '.join(argv) or 'nothing'})")
    import json

    inst = connect("resource")
    shape = inst.shape
    used: dict[int, tuple[set[int], set[int]]] = {}
    for (alloc,) in inst.conn.execute("SELECT alloc FROM jobs WHERE state IN ('RUN','CLEANUP') AND alloc != ''"):
        for rank, cores, gpus, _ in json.loads(alloc):
            c, g = used.setdefault(rank, (set(), set()))
            c.update(cores)
            g.update(gpus)
    free_ranks = [r for r in range(shape.nodes) if len(used.get(r, (set(),))[0]) < shape.cores]
    alloc_ranks = sorted(used)
    ncores_used = sum(len(c) for c, _ in used.values())
    ngpus_used = sum(len(g) for _, g in used.values())
    lines = [f"{'STATE':>10} {'NNODES':>6} {'NCORES':>8} {'NGPUS':>8} NODELIST",
             f"{'free':>10} {len(free_ranks):>6} {shape.nodes * shape.cores - ncores_used:>8} "
             f"{shape.nodes * shape.gpus - ngpus_used:>8} {shape.nodelist(free_ranks)}",
             f"{'allocated':>10} {len(alloc_ranks):>6} {ncores_used:>8} {ngpus_used:>8} {shape.nodelist(alloc_ranks)}",
             f"{'down':>10} {0:>6} {0:>8} {0:>8} "]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def getattr(argv: list[str]) -> int:  # noqa: A001 - the subcommand's name
    from pytest_executorlib.mocks.flux.client import Instance

    try:
        inst = Instance.from_uri()
    except FileNotFoundError:
        sys.stderr.write("flux: flux_open: No such file or directory\n")
        return 1
    values = {"size": str(inst.shape.nodes), "rank": "0", "jobid-path": "/", "local-uri": inst.uri,
              "rundir": inst.root}
    if not argv or argv[0] not in values:
        sys.stderr.write(f"flux-getattr: {argv[0] if argv else ''}: No such file or directory\n")
        return 1
    sys.stdout.write(values[argv[0]] + "\n")
    return 0


def _shape(text: str, nodes: int | None) -> tuple[int, int, int]:
    n, c, g = (int(x) for x in text.split(";"))
    return (nodes or n, c, g)


def start(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="flux-start")
    p.add_argument("-s", "--test-size", type=int, default=None)
    p.add_argument("-o", "--broker-opts", action="append", default=[])
    p.add_argument("-v", "--verbose", action="count", default=0)
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    shape = _shape(os.environ.get(SHAPE_VARIABLE, "1;4;0"), args.test_size)
    return _run_instance(shape, args.command or [os.environ.get("SHELL", "/bin/sh")], "flux-start")


def broker(argv: list[str]) -> int:
    command = list(argv)
    while command and command[0].startswith("-"):
        command.pop(0)
    alloc = os.environ.get("XLIB_MOCK_FLUX_ALLOC")
    shape = _shape(alloc, None) if alloc else _shape(os.environ.get(SHAPE_VARIABLE, "1;4;0"), None)
    return _run_instance(shape, command or [os.environ.get("SHELL", "/bin/sh")], "flux-broker")


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _run_instance(shape_t: tuple[int, int, int], command: list[str], who: str) -> int:
    """Create the instance, serve it with ``command`` as initial program, remove it (also on SIGTERM).

    A nested instance (batch job, ``from_nest_command``) lives inside the job's ``FLUX_JOB_TMPDIR``, which the
    enclosing broker removes when the job ends: even a nested broker killed by SIGKILL leaves nothing behind.
    """
    signal.signal(signal.SIGTERM, _stop)  # a cancelled batch job: stop the jobs, the program, remove root
    import pathlib
    import shutil
    import tempfile

    from pytest_executorlib.mocks.flux.broker import Broker
    from pytest_executorlib.mocks.flux.instance import create_instance
    from pytest_executorlib.mocks.flux.resources import Shape

    try:
        shape = Shape(*shape_t)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    parent_tmp = os.environ.get("FLUX_JOB_TMPDIR")
    root = tempfile.mkdtemp(prefix="flux-", dir=parent_tmp if parent_tmp and os.path.isdir(parent_tmp) else None)
    started = time.time()
    instance = None
    try:
        shim = pathlib.Path(os.path.realpath(sys.argv[0])) if os.path.basename(sys.argv[0]) == "flux" else None
        create_instance(pathlib.Path(root), shape, shim or pathlib.Path(shutil.which("flux") or "flux"))
        instance = Broker(root)
        rc = instance.serve(command)
    except SystemExit as exc:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if instance is not None:
            instance.shutdown()
        rc = int(exc.code or 0)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        shutil.rmtree(root, ignore_errors=True)
    if rc != 0:
        how = "Exited" if rc < 128 else "Killed"
        stamp = time.strftime("%b %d %H:%M:%S") + f".{int((time.time() % 1) * 1e6):06d} " + time.strftime("%Z %Y")
        sys.stderr.write(f"{stamp} broker.err[0]: rc2.0: {' '.join(command)} {how} (rc={rc}) "
                         f"{time.time() - started:.1f}s\n")
        sys.stderr.write(f"{who}: 0 (pid {os.getpid()}) exited with rc={rc}\n")
    return rc
