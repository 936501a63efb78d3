"""A worker started by a launcher command (``mpiexec -n 1``, ``srun -n 1``, ``flux run``), one rank.

The launcher's environment carries the configuration (``XLIB_WORKER_CONFIG``, removed before any call runs;
the secret may come in a file instead, see ``mpi_config``);
this worker needs neither mpi4py nor pyzmq.  Multi-rank workers run ``executor.worker.mpi`` instead.
"""

from __future__ import annotations

import os
import sys

from executor.worker.mpi_config import load_config, take_key

COVERAGE_VARIABLE = "XLIB_COVERAGE_CONFIG"  # executor.coverage.parent.CONFIG_VARIABLE (not imported: worker start-up)


def main() -> None:
    config = load_config()  # see mpi_config: removed before any call runs; the key may come from a file
    sys.path[:] = config["sys_path"]
    if os.environ.get(COVERAGE_VARIABLE):  # measured: import coverage's helpers only then (~2 ms otherwise)
        from executor.coverage.worker import start_from_environment

        start_from_environment()
    from executor.worker import reaper
    from executor.worker.loop import WorkerConfig, serve

    reaper.adopt_orphans()
    try:
        serve(
            WorkerConfig(
                address=config["address"],
                identity=config["identity"],
                key=take_key(config),
                worker_id=config["worker_id"],
                one_shot=config["one_shot"],
            )
        )
    finally:
        reaper.end_descendants()  # nothing its calls started outlives the worker


if __name__ == "__main__":
    main()
