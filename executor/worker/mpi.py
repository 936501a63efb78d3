"""MPI worker: ``mpiexec -n N python -m executor.worker.mpi``.

Rank 0 is an ordinary worker towards the parent (same channel, same messages).  It broadcasts each payload to
the other ranks; every rank runs it; for a call, rank 0 returns the list of the per-rank results.  A rank whose
call raises cannot count on the others reaching the gather (they may wait for it in a collective of the user's
program), so it leaves its failure in a file and aborts the job; the parent reports that failure when the job
ends, and starts a new worker.  ``init_function`` runs on every rank, and each rank injects its own
result into its calls.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

from executor.channel import oob
from executor.worker.mpi_config import load_config, take_key
from executor.worker.calls import dumps, run


def _start_coverage() -> None:
    try:
        from executor.coverage.worker import start_from_environment
    except ImportError:
        return
    start_from_environment()


def _combine(outcomes: list[tuple[bool, oob.Pickled]]) -> tuple[bool, oob.Pickled]:
    for ok, data in outcomes:
        if not ok:
            return ok, data
    return True, dumps([oob.loads(data) for _, data in outcomes])


def main() -> None:
    config = load_config()  # see mpi_config: removed before any call runs; rank 0 reads the key from its file
    sys.path[:] = config["sys_path"]
    _start_coverage()
    from mpi4py import MPI

    from executor.worker.loop import WorkerConfig, serve

    from executor.worker import reaper

    reaper.adopt_orphans()  # nothing a call starts on any rank outlives the worker (executor.worker.reaper)
    comm = MPI.COMM_WORLD
    if comm.Get_rank() != 0:
        try:
            follow(comm, config["worker_id"], config["failure_file"])
        finally:
            reaper.end_descendants()
        return

    failure_file = config["failure_file"]

    def on_all_ranks(kind: str, payload: oob.Pickled, extra: dict[str, Any]) -> tuple[bool, oob.Pickled]:
        comm.bcast((kind, payload))
        outcome = run(payload, extra)
        if kind == "call" and not outcome[0]:
            abort_with(comm, failure_file, outcome[1])
        outcomes = comm.gather(outcome)
        return outcome if kind == "init" else _combine(outcomes)

    try:
        serve(
            WorkerConfig(
                address=config["address"],
                identity=config["identity"],
                key=take_key(config),
                worker_id=config["worker_id"],
                one_shot=config["one_shot"],
            ),
            runner=on_all_ranks,
        )
    finally:
        comm.bcast(None)  # release the other ranks
        reaper.end_descendants()


def abort_with(comm: Any, failure_file: str, failure: oob.Pickled) -> NoReturn:
    """A call raised on this rank: the other ranks may be waiting for it in a collective and would wait forever.
    Leave the failure where the parent looks when the job ends, then abort the whole job."""
    partial = f"{failure_file}.{comm.Get_rank()}.tmp"
    with open(partial, "wb") as file:
        file.write(oob.in_band(failure))
    try:
        os.link(partial, failure_file)  # the first failing rank wins; later ones find the file there
    except OSError:
        pass
    os.remove(partial)
    sys.stdout.flush()
    sys.stderr.flush()
    comm.Abort(1)
    # MPICH's MPI_Abort can return and let this rank run on for a moment (seen: rank 0 went on into the
    # gather and sent a RESULT, so the failure reached the parent twice).  This rank must never get there.
    os._exit(1)


def follow(comm: Any, worker_id: int, failure_file: str) -> None:
    """Ranks > 0: run what rank 0 broadcasts until it broadcasts ``None``."""
    extra: dict[str, Any] = {"executorlib_worker_id": worker_id}
    while True:
        message = comm.bcast(None)
        if message is None:
            return
        kind, payload = message
        outcome = run(payload, {"executorlib_worker_id": worker_id} if kind == "init" else extra)
        if kind == "call" and not outcome[0]:
            abort_with(comm, failure_file, outcome[1])
        if kind == "init" and outcome[0]:
            value = oob.loads(outcome[1])
            if isinstance(value, dict):
                extra.update(value)
        comm.gather(outcome)


if __name__ == "__main__":
    main()
