"""The simulated cluster's shape: nodes x CPUs x GPUs, grouped into partitions.

Stored in the cluster database (table ``meta``, key ``shape``) as one line of text, so the commands read it
without importing :mod:`json`: ``nodes;cpus;gpus;name=node-range:default:maxtime|...``.  Node names are
``n1 .. nN`` (all "nodes" are this host; only ``SLURMD_NODENAME`` and ``SLURM_NODEID`` differ).
"""

from __future__ import annotations

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a command ~10 ms
if TYPE_CHECKING:
    from typing import Any



class Partition:
    """One partition: a name, the node indices (0-based) it holds, and its time limit in minutes.

    (Plain classes, not dataclasses: importing :mod:`dataclasses` costs a mock command ~7 ms.)
    """

    __slots__ = ("name", "nodes", "default", "max_time")

    def __init__(self, name: str, nodes: tuple[int, ...], default: bool = False, max_time: int | None = None) -> None:
        self.name = name
        self.nodes = nodes
        self.default = default
        self.max_time = max_time  # minutes; None = UNLIMITED

    def __repr__(self) -> str:
        return f"Partition({self.name!r}, nodes={self.nodes}, default={self.default}, max_time={self.max_time})"


class Shape:
    """``nodes`` nodes of ``cpus`` CPUs and ``gpus`` GPUs each, and the partitions over them."""

    def __init__(self, nodes: int = 1, cpus: int = 4, gpus: int = 0, partitions: tuple[Partition, ...] = ()) -> None:
        self.nodes = nodes
        self.cpus = cpus
        self.gpus = gpus
        self.partitions = partitions
        self._check()

    def __repr__(self) -> str:
        return f"Shape(nodes={self.nodes}, cpus={self.cpus}, gpus={self.gpus}, partitions={self.partitions})"

    def _check(self) -> None:
        for what, value in (("nodes", self.nodes), ("cpus_per_node", self.cpus)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"MockSlurm: {what} must be a positive int, got {value!r}")
        if not isinstance(self.gpus, int) or self.gpus < 0:
            raise ValueError(f"MockSlurm: gpus_per_node must be an int >= 0, got {self.gpus!r}")
        if not self.partitions:
            self.partitions = (Partition("debug", tuple(range(self.nodes)), True),)
        if not any(p.default for p in self.partitions):
            first = self.partitions[0]
            rest = self.partitions[1:]
            self.partitions = (Partition(first.name, first.nodes, True, first.max_time), *rest)
        for p in self.partitions:
            bad = [i for i in p.nodes if not 0 <= i < self.nodes]
            if bad or not p.nodes:
                raise ValueError(f"MockSlurm: partition {p.name!r} names nodes {bad or '()'} outside 0..{self.nodes - 1}")

    def node_name(self, index: int) -> str:
        return f"n{index + 1}"

    @property
    def node_names(self) -> list[str]:
        return [self.node_name(i) for i in range(self.nodes)]

    def partition(self, name: str | None) -> Partition | None:
        """The partition called ``name`` (the default one for None/empty); None when it does not exist."""
        for p in self.partitions:
            if (p.name == name) if name else p.default:
                return p
        return None

    def encode(self) -> str:
        parts = "|".join(
            f"{p.name}={','.join(map(str, p.nodes))}:{int(p.default)}:{'' if p.max_time is None else p.max_time}"
            for p in self.partitions
        )
        return f"{self.nodes};{self.cpus};{self.gpus};{parts}"

    @classmethod
    def decode(cls, text: str) -> Shape:
        nodes, cpus, gpus, parts = text.split(";", 3)
        partitions = []
        for item in parts.split("|"):
            name, rest = item.split("=", 1)
            indices, default, max_time = rest.split(":")
            partitions.append(
                Partition(name, tuple(int(i) for i in indices.split(",")), default == "1",
                          int(max_time) if max_time else None)
            )
        return cls(int(nodes), int(cpus), int(gpus), tuple(partitions))


def make_shape(
    nodes: int, cpus_per_node: int, gpus_per_node: int, partitions: dict[str, dict[str, Any]] | None
) -> Shape:
    """Build a :class:`Shape` from :class:`MockSlurm`'s arguments.

    ``partitions`` maps a name to ``{"nodes": [0, 1] (default all), "default": bool, "max_time": minutes}``;
    the first partition is the default unless one says ``default=True``.
    """
    if partitions is None:
        return Shape(nodes, cpus_per_node, gpus_per_node)
    built = []
    for name, spec in partitions.items():
        unknown = set(spec) - {"nodes", "default", "max_time"}
        if unknown:
            raise ValueError(f"MockSlurm: partition {name!r}: unknown keys {sorted(unknown)}; accepted: nodes, default, max_time")
        node_list = spec.get("nodes", range(nodes))
        built.append(Partition(name, tuple(int(i) for i in node_list), bool(spec.get("default", False)),
                               None if spec.get("max_time") is None else int(spec["max_time"])))
    return Shape(nodes, cpus_per_node, gpus_per_node, tuple(built))
