"""What every spawner provides to a scheduler, and what a scheduler hands a spawner.

Layer: spawners (below schedulers, above channel/tasks/host; imports nothing from ``schedulers`` or
``frontends``).

A spawner starts workers with given resources, reports what happens to them as events, and stops them.  Events
are read by the scheduler thread when the spawner's ``fileno()`` becomes readable, so nothing polls:

``Spawned(identity, ref)``
    the launcher accepted the worker; ``ref`` is its launcher-neutral name for messages (``"process 1234"``
    for a local process, ``"job ƒABC"`` for a flux job).  The worker may still wait in a queue.
``Started(identity)``
    the worker really runs now (resources allocated).  From here it gets ``CONNECT_TIMEOUT`` to connect;
    before it, it gets the spawner's ``start_timeout`` (``None``: as long as the queue takes; a launcher that
    may queue should still bound this), so a worker waiting in a queue is not a start failure.
``Exited(identity, returncode, failure, message)``
    the worker (its whole launcher tree) ended; ``message`` quotes what the launcher said (e.g. srun's own
    error), ``failure`` is a RESULT-style payload a rank left before it aborted the job.

``WorkerSpec`` carries the validated, read-only resources of the call (per-call mode) or of every worker (block
allocation), so a launcher builds its command from them without reaching back into the executor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

# A started worker that has not connected after this long is killed and reported (covers interpreters that hang
# at start-up, e.g. on a broken network file system).
CONNECT_TIMEOUT = 120.0


@dataclass(frozen=True)
class Spawned:
    identity: bytes
    ref: str  # launcher-neutral, for messages: "process 1234", "job 42"


@dataclass(frozen=True)
class Started:
    identity: bytes


@dataclass(frozen=True)
class Exited:
    identity: bytes
    returncode: int | None  # negative: killed by that signal; None: unknown (the launcher itself died)
    failure: bytes | None = None  # a RESULT-style failure payload the worker left before it ended (MPI abort)
    message: str | None = None  # what the launcher reported (its stderr tail), quoted in errors


Event = Spawned | Started | Exited


@dataclass(frozen=True)
class WorkerSpec:
    """One worker to start: channel identity, ``executorlib_worker_id``, environment, cwd and resources.

    ``resources`` is the validated, merged ``resource_dict`` (read-only); the properties name the keys
    launchers use.  ``env`` holds only what the launch policy adds (thread counts, GPUs) on top of the caller's
    environment.
    """

    identity: bytes
    worker_id: int
    one_shot: bool
    env: Mapping[str, str]
    cwd: str | None
    resources: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def make(
        cls, identity: bytes, worker_id: int, one_shot: bool, env: Mapping[str, str], cwd: str | None, resources: Mapping[str, Any]
    ) -> WorkerSpec:
        return cls(identity, worker_id, one_shot, MappingProxyType(dict(env)), cwd, MappingProxyType(dict(resources)))

    @property
    def ranks(self) -> int:
        """Ranks of the worker (``cores``): > 1 is an MPI job."""
        return int(self.resources.get("cores") or 1)

    @property
    def threads_per_core(self) -> int:
        return int(self.resources.get("threads_per_core") or 1)

    @property
    def gpus_per_core(self) -> int:
        return int(self.resources.get("gpus_per_core") or 0)

    @property
    def num_nodes(self) -> int | None:
        return self.resources.get("num_nodes")

    @property
    def exclusive(self) -> bool:
        return bool(self.resources.get("exclusive"))

    @property
    def oversubscribe(self) -> bool:
        """Open MPI's ``--oversubscribe`` (``openmpi_oversubscribe``)."""
        return bool(self.resources.get("openmpi_oversubscribe"))

    @property
    def slurm_cmd_args(self) -> tuple[str, ...]:
        return tuple(self.resources.get("slurm_cmd_args") or ())

    @property
    def run_time_max(self) -> float | None:
        return self.resources.get("run_time_max")

    @property
    def priority(self) -> int:
        return int(self.resources.get("priority") or 0)

    @property
    def pmi_mode(self) -> str | None:
        return self.resources.get("pmi_mode")


class Spawner(Protocol):
    """Used only from the scheduler thread (plus construction and ``close``)."""

    start_timeout: float | None  # bound on Spawned -> Started (time in a queue); None: no queue, starts at once

    def fileno(self) -> int:
        """Readable when events are waiting (may change after a restart: re-read it after ``read_events``)."""
        ...

    def spawn(self, spec: WorkerSpec) -> None:
        """Start a worker; raise (a clear error) if it cannot even be launched."""
        ...

    def in_sync(self) -> bool:
        """Whether a worker spawned now would see the caller's current environment, cwd and ``sys.path``."""
        ...

    def read_events(self) -> list[Event]: ...

    def kill(self, identity: bytes, signum: int) -> None:
        """Signal the worker's whole tree; a worker not launched yet gets it as soon as it is."""
        ...

    def close(self) -> None:
        """Stop every worker still running (bounded) and release everything; no process outlives this."""
        ...
