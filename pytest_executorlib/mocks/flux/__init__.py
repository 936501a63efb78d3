"""A mock flux (flux-core 0.88): the ``flux`` Python package and the ``flux`` command over a simulated instance.

Public API::

    from pytest_executorlib.mocks.flux import MockFlux
    with MockFlux(tmp_path / "flux", nodes=1, cores_per_node=4) as instance:
        subprocess.run(["flux", "run", "-n", "2", "hostname"], env=instance.environ())
        instance.activate(); import flux.job  # the mock package, inside the instance
        instance.jobs(); instance.calls("batch"); instance.hold_new_jobs(); instance.fault_next("exit", 3)

Design (shared with the mock SLURM: SQLite state, an event-driven controller, wake-up datagrams, its PMI-1
server, the same control API)::

    flux shim ──(python -I -S)──► cli/        flux package (pkg/flux) ──► client.py
         │ short BEGIN IMMEDIATE transactions      │ watchers woken per pass
         ▼                                         ▼
    <root>/flux.db (SQLite, WAL) ◄──── broker.py (one per instance: sched.py passes, launch.py tasks + PMI)

* :mod:`.state` -- the database and the wake-up sockets; :mod:`.jobid` -- FLUIDs and their encodings;
  :mod:`.resources` -- shape, placement, flux's "unsatisfiable request" notes.
* :mod:`.broker` -- the instance's only process (``flux start`` runs it in-process with CMD as initial
  program; ``MockFlux`` starts it as a child that watches its owner); :mod:`.sched` -- the job state machine
  and eventlog; :mod:`.launch` -- the job shell's work (environment, output, PMI).
* :mod:`.client` -- what the ``flux`` package and command share; ``pkg/flux`` -- the package itself.
* :mod:`.control` (mixed into :class:`MockFlux`), :mod:`.session` (pytest), :mod:`.mockenv` (``xlib mock-env``).
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: the flux command must start fast
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Call", "FAULTS", "Job", "MockFlux", "backend_session"]


def __getattr__(name: str) -> Any:
    if name == "MockFlux":
        from pytest_executorlib.mocks.flux.instance import MockFlux

        return MockFlux
    if name in ("Call", "Job", "FAULTS"):
        from pytest_executorlib.mocks.flux import control

        return getattr(control, name)
    if name == "backend_session":
        from pytest_executorlib.mocks.flux.session import backend_session

        return backend_session
    raise AttributeError(f"module 'pytest_executorlib.mocks.flux' has no attribute {name!r}")
