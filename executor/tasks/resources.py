"""Validate and merge ``resource_dict`` (executor defaults + per-call overrides).

Layer: tasks (below schedulers and spawners).  Errors name the key, what was given and what is accepted, and are
raised in the caller's thread (at construction or at ``submit()``).  The caller's dict is never modified:
merging builds a new dict.  What a backend cannot honour is asked of its launch policy (``executor.spawners.launch``),
which the front end passes in through ``Limits``, once per call.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, Protocol

_PathLike = (str, os.PathLike)


def _int(minimum: int) -> Callable[[str, Any], None]:
    def check(key: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"resource_dict[{key!r}] must be an int >= {minimum}, got {value!r} ({type(value).__name__})")
        if value < minimum:
            raise ValueError(f"resource_dict[{key!r}] must be an int >= {minimum}, got {value!r}")

    return check


def _optional(check: Callable[[str, Any], None]) -> Callable[[str, Any], None]:
    def optional(key: str, value: Any) -> None:
        if value is not None:
            check(key, value)

    return optional


def _path(key: str, value: Any) -> None:
    if not isinstance(value, _PathLike):
        raise TypeError(f"resource_dict[{key!r}] must be a path (str or os.PathLike) or None, got {type(value).__name__}")


def _str(key: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise TypeError(f"resource_dict[{key!r}] must be a non-empty str, got {value!r}")


def _bool(key: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"resource_dict[{key!r}] must be a bool, got {value!r} ({type(value).__name__})")


def _seconds(key: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"resource_dict[{key!r}] must be a number of seconds > 0, got {value!r} ({type(value).__name__})")
    if not value > 0:
        raise ValueError(f"resource_dict[{key!r}] must be a number of seconds > 0, got {value!r}")


def _priority(key: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"resource_dict[{key!r}] must be an int (higher starts first), got {value!r}")


def _str_list(key: str, value: Any) -> None:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"resource_dict[{key!r}] must be a list of str, got {value!r}")


CHECKS: dict[str, Callable[[str, Any], None]] = {
    "cores": _int(1),
    "threads_per_core": _int(1),
    "gpus_per_core": _int(0),
    "cwd": _optional(_path),
    "cache_key": _optional(_str),
    "cache_directory": _optional(_path),
    "num_nodes": _optional(_int(1)),
    "exclusive": _bool,
    "error_log_file": _optional(_path),
    "run_time_max": _optional(_seconds),
    "priority": _priority,
    "slurm_cmd_args": _str_list,
    "openmpi_oversubscribe": _bool,
}
ACCEPTED = tuple(CHECKS)
DEFAULTS: dict[str, Any] = {
    "cores": 1,
    "threads_per_core": 1,
    "gpus_per_core": 0,
    "cwd": None,
    "openmpi_oversubscribe": False,
    "slurm_cmd_args": [],
}
# With block allocation the workers' resources are fixed at construction; these may still vary per call.
PER_CALL_IN_BLOCK = frozenset({"cache_key", "cache_directory", "error_log_file", "run_time_max", "priority"})


def validate(resource_dict: Any) -> None:
    """Raise ``TypeError``/``ValueError`` naming the first bad key; accepts ``None`` (no resources)."""
    if resource_dict is None:
        return
    if not isinstance(resource_dict, Mapping):
        raise TypeError(f"resource_dict must be a dict, got {type(resource_dict).__name__}")
    for key, value in resource_dict.items():
        check = CHECKS.get(key)
        if check is None:
            raise ValueError(
                f"resource_dict has an unknown key {key!r}; accepted keys are: {', '.join(ACCEPTED)}"
            )
        check(key, value)


class Honours(Protocol):
    """The part of a launch policy the checks need (``executor.spawners.launch.LaunchPolicy``)."""

    def unsupported(self, resources: Mapping[str, Any]) -> str | None: ...


@dataclass(frozen=True)
class Limits:
    """What an executor can give one call."""

    executor: str  # class name, for messages
    capacity: int | None  # slots (cores * threads) available at once; None: no budget (block allocation)
    block_allocation: bool
    launch: Honours  # says why the backend cannot honour some resources


class ResourcePolicy:
    """Merge per-call resources into the executor's defaults and check them against the executor's limits."""

    def __init__(self, executor_resources: Mapping[str, Any] | None, limits: Limits) -> None:
        validate(executor_resources)
        self.limits = limits
        self.defaults: dict[str, Any] = {**DEFAULTS, **(executor_resources or {})}
        self.defaults["slurm_cmd_args"] = list(self.defaults["slurm_cmd_args"])
        self._check(self.defaults)
        self.default_cost = cost(self.defaults)

    def for_call(self, resource_dict: Mapping[str, Any] | None) -> dict[str, Any]:
        """The merged resources of one call (the shared defaults object when nothing is overridden)."""
        if not resource_dict:
            return self.defaults
        validate(resource_dict)
        merged = {**self.defaults, **resource_dict}
        self._check_backend(merged)  # "which executor supports this" beats "not per call"
        if self.limits.block_allocation:
            fixed = sorted(k for k in resource_dict if k not in PER_CALL_IN_BLOCK and resource_dict[k] != self.defaults.get(k))
            if fixed:
                raise ValueError(
                    f"with block_allocation=True the workers' resources are set on the executor; "
                    f"{', '.join(map(repr, fixed))} cannot change per call (per call you may set: "
                    f"{', '.join(sorted(PER_CALL_IN_BLOCK))})"
                )
        self._check_capacity(merged)
        return merged

    def _check(self, resources: dict[str, Any]) -> None:
        self._check_backend(resources)
        self._check_capacity(resources)

    def _check_backend(self, resources: dict[str, Any]) -> None:
        message = self.limits.launch.unsupported(resources)
        if message:
            raise ValueError(message)

    def _check_capacity(self, resources: dict[str, Any]) -> None:
        need = cost(resources)
        if self.limits.capacity is not None and need > self.limits.capacity:
            raise ValueError(
                f"a call asking for cores={resources['cores']} x threads_per_core={resources['threads_per_core']} "
                f"= {need} cores can never run on this {self.limits.executor}, which may use {self.limits.capacity} "
                "cores at once (raise max_cores/max_workers or ask for fewer)"
            )


def cost(resources: Mapping[str, Any]) -> int:
    return int(resources["cores"]) * int(resources["threads_per_core"])
