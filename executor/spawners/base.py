"""What every spawner provides to a scheduler.

A spawner starts worker processes with given resources, reports when they start and exit, and stops them.
Events are read by the scheduler thread when the spawner's ``fileno()`` becomes readable, so nothing polls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Spawned:
    identity: bytes
    pid: int


@dataclass(frozen=True)
class Exited:
    identity: bytes
    pid: int | None
    returncode: int | None  # negative: killed by that signal; None: unknown (the launcher itself died)
    failure: bytes | None = None  # a RESULT-style failure payload the worker left before it ended (MPI abort)
    message: str | None = None  # what the launcher reported (e.g. srun's own error), quoted in errors


@dataclass(frozen=True)
class WorkerSpec:
    """One worker to start: its channel identity, ``executorlib_worker_id``, and per-worker environment."""

    identity: bytes
    worker_id: int
    one_shot: bool
    env: dict[str, str]
    cwd: str | None
    ranks: int = 1  # > 1: an MPI job of that many ranks
    oversubscribe: bool = False  # Open MPI's --oversubscribe
    resources: Mapping[str, Any] = field(default_factory=dict)  # the validated resources (launchers build options)


class Spawner(Protocol):
    def fileno(self) -> int: ...

    def spawn(self, spec: WorkerSpec) -> None: ...

    def in_sync(self) -> bool: ...

    def read_events(self) -> list[Spawned | Exited]: ...

    def kill(self, identity: bytes, signum: int) -> None: ...

    def close(self) -> None: ...
