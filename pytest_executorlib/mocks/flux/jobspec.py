"""``flux.job.Jobspec`` / ``JobspecV1`` with flux-core 0.88's constructors, setters and validation messages.

Here rather than in the ``flux`` package so that the ``flux`` command builds jobspecs without importing
``flux.job`` (whose FluxExecutor pulls in concurrent.futures): every mock command pays for its imports.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "ms": 0.001}


def parse_fsd(text: str) -> float:
    """Flux standard duration: ``30``, ``30s``, ``2m``, ``1.5h``, ``1d``, ``500ms``; ValueError otherwise."""
    s = text.strip()
    unit = "s"
    for u in ("ms", "s", "m", "h", "d"):
        if s.endswith(u):
            unit, s = u, s[: -len(u)]
            break
    try:
        value = float(s)
    except ValueError:
        raise ValueError("invalid Flux standard duration") from None
    if value < 0 or math.isnan(value) or math.isinf(value):
        raise ValueError("invalid Flux standard duration")
    return value * _UNITS[unit]


def _split_key(key: str) -> list[str]:
    if not key.startswith(("user.", "system.")):
        key = "system." + key
    return ["attributes", *key.split(".")]


class Jobspec:
    def __init__(self, resources: list[Any], tasks: list[Any], attributes: dict[str, Any] | None = None,
                 version: int = 1, **kwargs: Any) -> None:
        if not isinstance(resources, list):
            raise TypeError("resources must be a list")
        if not isinstance(tasks, list):
            raise TypeError("tasks must be a list")
        self.jobspec: dict[str, Any] = {"resources": resources, "tasks": tasks,
                                        "attributes": attributes or {"system": {"duration": 0}},
                                        "version": version}

    # --- generic access ------------------------------------------------------------------------------------
    @property
    def resources(self) -> list[Any]:
        return self.jobspec["resources"]  # type: ignore[no-any-return]

    @property
    def tasks(self) -> list[Any]:
        return self.jobspec["tasks"]  # type: ignore[no-any-return]

    @property
    def attributes(self) -> dict[str, Any]:
        return self.jobspec["attributes"]  # type: ignore[no-any-return]

    @property
    def version(self) -> int:
        return int(self.jobspec["version"])

    def setattr(self, key: str, val: Any) -> None:
        path = _split_key(key)
        node = self.jobspec
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = val

    def getattr(self, key: str) -> Any:
        node: Any = self.jobspec
        for part in _split_key(key):
            if not isinstance(node, dict) or part not in node:
                raise KeyError(key)
            node = node[part]
        return node

    def setattr_shell_option(self, key: str, val: Any) -> None:
        self.setattr("shell.options." + key, val)

    def add_file(self, path: str, data: Any, perms: int = 0o600, encoding: str | None = None) -> None:
        self.setattr(f"files.{path}", {"data": data, "mode": perms, "encoding": encoding or "utf-8"})

    def dumps(self, **kwargs: Any) -> str:
        return json.dumps(self.jobspec, **kwargs)

    def _get_system(self, key: str) -> Any:
        try:
            return self.getattr(key)
        except KeyError:
            return None

    # --- typed attributes ----------------------------------------------------------------------------------
    @property
    def duration(self) -> Any:
        return self._get_system("duration")

    @duration.setter
    def duration(self, value: Any) -> None:
        if hasattr(value, "total_seconds") and type(value).__name__ == "timedelta":
            seconds = float(value.total_seconds())
        elif isinstance(value, str):
            seconds = parse_fsd(value)
        elif isinstance(value, (int, float)):
            seconds = float(value)
        else:
            raise TypeError("duration must be an int, float, string, or timedelta")
        if seconds < 0 or math.isnan(seconds):
            raise ValueError("duration must not be negative or NaN")
        self.setattr("duration", float(seconds))

    @property
    def cwd(self) -> Any:
        return self._get_system("cwd")

    @cwd.setter
    def cwd(self, value: Any) -> None:
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str):
            raise ValueError("cwd must be a string")
        self.setattr("cwd", value)

    @property
    def environment(self) -> Any:
        return self._get_system("environment")

    @environment.setter
    def environment(self, value: Any) -> None:
        if not isinstance(value, Mapping):
            raise ValueError("environment must be a mapping")
        self.setattr("environment", value)

    @property
    def queue(self) -> Any:
        return self._get_system("queue")

    @queue.setter
    def queue(self, value: Any) -> None:
        if not isinstance(value, str):
            raise TypeError("queue must be a string")
        self.setattr("queue", value)

    @property
    def unbuffered(self) -> bool:
        return bool(self._get_system("shell.options.output.batch-timeout") == 0.05)

    @unbuffered.setter
    def unbuffered(self, value: bool) -> None:
        if value:
            self.setattr_shell_option("output.batch-timeout", 0.05)

    def _io(self, kind: str, stream: str) -> Any:
        return self._get_system(f"shell.options.{kind}.{stream}.path")

    def _set_io(self, kind: str, stream: str, path: Any) -> None:
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        if not isinstance(path, str):
            raise TypeError(f"{stream} path must be a string or PathLike")
        self.setattr_shell_option(f"{kind}.{stream}", {"type": "file", "path": path})

    stdin = property(lambda self: self._io("input", "stdin"), lambda self, p: self._set_io("input", "stdin", p))
    stdout = property(lambda self: self._io("output", "stdout"), lambda self, p: self._set_io("output", "stdout", p))
    stderr = property(lambda self: self._io("output", "stderr"), lambda self, p: self._set_io("output", "stderr", p))
    input = stdin
    output = stdout
    error = stderr


class JobspecV1(Jobspec):
    @staticmethod
    def _check_command(command: Any) -> list[str]:
        if isinstance(command, str) or not isinstance(command, (list, tuple)) or not all(
                isinstance(a, str) for a in command):
            raise TypeError("command must be a list of strings")
        if len(command) == 0:
            raise ValueError("command array cannot have length of zero")
        return list(command)

    @classmethod
    def from_command(cls, command: Any, num_tasks: int = 1, cores_per_task: int = 1, gpus_per_task: int | None = None,
                     num_nodes: int | None = None, exclusive: bool = False, duration: Any = None,
                     environment: Mapping[str, str] | None = None, env_expand: Any = None, cwd: Any = None,
                     rlimits: Any = None, name: str | None = None, input: Any = None, output: Any = None,  # noqa: A002
                     error: Any = None, label_io: bool = False, unbuffered: bool = False, queue: str | None = None,
                     bank: str | None = None) -> JobspecV1:
        command = cls._check_command(command)
        if not isinstance(num_tasks, int) or num_tasks < 1:
            raise ValueError("task count must be a integer >= 1")
        if not isinstance(cores_per_task, int) or cores_per_task < 1:
            raise ValueError("cores per task must be an integer >= 1")
        if gpus_per_task is not None and (not isinstance(gpus_per_task, int) or gpus_per_task < 0):
            raise ValueError("gpus per task must be an integer >= 0")
        if num_nodes is not None:
            if not isinstance(num_nodes, int) or num_nodes < 1:
                raise ValueError("node count must be an integer >= 1 (if set)")
            if num_nodes > num_tasks:
                raise ValueError("node count must not be greater than task count")
        elif exclusive:
            raise ValueError("exclusive can only be set with a node count")
        children: list[dict[str, Any]] = [{"type": "core", "count": cores_per_task}]
        if gpus_per_task:
            children.append({"type": "gpu", "count": gpus_per_task})
        if num_nodes is not None:
            per_node = math.ceil(num_tasks / num_nodes)
            count = {"per_slot": 1} if num_tasks % num_nodes == 0 else {"total": num_tasks}
            slot = {"type": "slot", "count": per_node, "with": children, "label": "task"}
            node: dict[str, Any] = {"type": "node", "count": num_nodes, "with": [slot]}
            if exclusive:
                node["exclusive"] = True
            resources = [node]
        else:
            count = {"per_slot": 1}
            resources = [{"type": "slot", "count": num_tasks, "with": children, "label": "task"}]
        tasks = [{"command": command, "slot": "task", "count": count}]
        spec = cls(resources, tasks, attributes={"system": {"duration": 0}})
        spec.environment = dict(os.environ) if environment is None else environment
        if duration is not None:
            spec.duration = duration
        if cwd is not None:
            spec.cwd = cwd
        if name is not None:
            spec.setattr("job.name", name)
        if queue is not None:
            spec.queue = queue
        if bank is not None:
            spec.setattr("bank", bank)
        for stream, value in (("stdin", input), ("stdout", output), ("stderr", error)):
            if value is not None:
                setattr(spec, stream, value)
        if unbuffered:
            spec.unbuffered = True
        if label_io:
            spec.setattr_shell_option("output.stdout.label", True)
        return spec

    @classmethod
    def from_nest_command(cls, command: Any, num_slots: int = 1, cores_per_slot: int = 1,
                          gpus_per_slot: int | None = None, num_nodes: int | None = None,
                          broker_opts: list[str] | None = None, exclusive: bool = False, conf: Any = None,
                          **kwargs: Any) -> JobspecV1:
        command = cls._check_command(command)
        spec = cls.from_command(["flux", "broker", *(broker_opts or []), *command], num_tasks=num_slots,
                                cores_per_task=cores_per_slot, gpus_per_task=gpus_per_slot, num_nodes=num_nodes,
                                exclusive=exclusive, **kwargs)
        spec.setattr_shell_option("per-resource.type", "node")
        spec.setattr_shell_option("mpi", "none")
        spec.setattr_shell_option("exit-timeout", "none")
        if conf is not None:
            spec.add_file("conf.json", conf)
        return spec

    @classmethod
    def from_batch_command(cls, script: str, jobname: str, args: list[str] | None = None, num_slots: int = 1,
                           cores_per_slot: int = 1, gpus_per_slot: int | None = None, num_nodes: int | None = None,
                           broker_opts: list[str] | None = None, exclusive: bool = False, **kwargs: Any) -> JobspecV1:
        spec = cls.from_nest_command(["{{tmpdir}}/script", *(args or [])], num_slots=num_slots,
                                     cores_per_slot=cores_per_slot, gpus_per_slot=gpus_per_slot, num_nodes=num_nodes,
                                     broker_opts=broker_opts, exclusive=exclusive, **kwargs)
        spec.setattr("job.name", jobname)
        spec.add_file("script", script, perms=0o700)
        return spec
