"""A mock SLURM: ``srun``, ``sbatch``, ``squeue``, ``scancel``, ``scontrol``, ``sinfo``, ``sacct`` on PATH, backed
by a simulated cluster, reproducing real SLURM 22.05's command lines, output, exit codes and task environment.

Public API::

    from pytest_executorlib.mocks.slurm import MockSlurm
    with MockSlurm(tmp_path / "slurm", nodes=2, cpus_per_node=4) as cluster:
        subprocess.run(["srun", "-n", "2", "hostname"], env=cluster.environ())
        cluster.jobs(); cluster.calls("srun"); cluster.hold_new_jobs(); cluster.fault(job_id, "exit", 3)

Design (one process per role, state in one database)::

    shims in <root>/bin ──(python -I -S, no pytest import)──► commands/<cmd>.py
        │  short BEGIN IMMEDIATE transactions                        │ one datagram: "look again"
        ▼                                                            ▼
    <root>/slurm.db (SQLite, WAL) ◄── short transactions ── controller.py (mock slurmctld, one per cluster)
        ▲                                                            │ starts batch scripts, wakes waiting sruns,
        │                                                            │ time limits, hold/release, dependencies
    srun ── tasks in one process group, PMI-1 server for MPI (pmi.py, steprun.py)

* State: :mod:`.db` -- jobs, steps, the call log and queued faults in SQLite (WAL, busy timeout, short write
  transactions), one database per cluster, so concurrent commands from jobs and xdist workers never lose a job;
  job ids come from one AUTOINCREMENT sequence shared by srun and sbatch.
* Controller: :mod:`.controller` -- event-driven (a ``selectors`` wait on its datagram socket, pidfds of the
  processes it watches, and the next timer); no sleep-polling.  Started by ``MockSlurm.__enter__`` and watching
  its owner's pid: when the owner exits (even by SIGKILL) it stops every job and exits.  Started by a command
  when it is not running (``xlib mock-env``): it exits after ``XLIB_MOCK_SLURM_IDLE`` seconds (default 600)
  without jobs or commands, and the next command starts it again; ``xlib mock-env slurm --stop`` ends it and
  every job for good.
* Commands: :mod:`.commands` -- one module per command; srun runs the tasks itself (:mod:`.steprun`).
* Test control: :mod:`.control` (mixed into :class:`MockSlurm`).
* pytest: :mod:`.session` (``--xlib-backend=mock-slurm`` and the ``mock_slurm`` fixture); outside pytest:
  :mod:`.mockenv` (``xlib mock-env slurm``).

Importing this package is cheap (names are loaded lazily): the commands import submodules of it.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a command ~10 ms
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Call", "Job", "MockSlurm", "backend_session", "FAULTS"]


def __getattr__(name: str) -> Any:
    if name == "MockSlurm":
        from pytest_executorlib.mocks.slurm.cluster import MockSlurm

        return MockSlurm
    if name in ("Call", "Job", "FAULTS"):
        from pytest_executorlib.mocks.slurm import control

        return getattr(control, name)
    if name == "backend_session":
        from pytest_executorlib.mocks.slurm.session import backend_session

        return backend_session
    raise AttributeError(f"module 'pytest_executorlib.mocks.slurm' has no attribute {name!r}")
