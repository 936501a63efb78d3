"""A worker started by a launcher command (``mpiexec -n 1``, ``srun -n 1``, ``flux run``), one rank.

The launcher's environment carries the configuration (``XLIB_WORKER_CONFIG``, removed before any call runs);
this worker needs neither mpi4py nor pyzmq.  Multi-rank workers run ``executor.worker.mpi`` instead.
"""

from __future__ import annotations

import os
import pickle
import sys

from executor.worker.mpi_config import CONFIG_VARIABLE


def main() -> None:
    # Set by our own parent (whoever can set this process's environment can run code in it anyway).
    config = pickle.loads(bytes.fromhex(os.environ.pop(CONFIG_VARIABLE)))  # the key must not reach user code
    sys.path[:] = config["sys_path"]
    try:
        from executor.coverage.worker import start_from_environment
    except ImportError:
        pass
    else:
        start_from_environment()
    from executor.worker.loop import WorkerConfig, serve

    serve(
        WorkerConfig(
            address=config["address"],
            identity=config["identity"],
            key=config["key"],
            worker_id=config["worker_id"],
            one_shot=config["one_shot"],
        )
    )


if __name__ == "__main__":
    main()
