"""The simulated resources of a mock flux instance and how a jobspec's request is placed on them.

Shape: ``nodes`` ranks x ``cores`` cores x ``gpus`` GPUs, stored as ``"nodes;cores;gpus"`` in the ``meta`` table.
Rank ``r`` is named after this host (``<host>`` for a one-node instance, ``<host>0 .. <host>N-1`` otherwise).

A jobspec V1 request is ``[node x N [exclusive]] > slot x S > (core x C, gpu x G)``.  Placement is first fit
over ranks (ranks in order, lowest free core ids first), as flux's simple scheduler does; a request larger
than the whole instance is *unsatisfiable*, which flux reports as an ``alloc`` exception with the note built
by :func:`unsatisfiable`.  An allocation is ``[[rank, [core ids], [gpu ids], slots], ...]``.
"""

from __future__ import annotations

import socket
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Shape:
    def __init__(self, nodes: int = 1, cores: int = 4, gpus: int = 0) -> None:
        for what, value, low in (("nodes", nodes, 1), ("cores_per_node", cores, 1), ("gpus_per_node", gpus, 0)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"MockFlux: {what} must be an int >= {low}, got {value!r}")
        self.nodes, self.cores, self.gpus = nodes, cores, gpus

    def __repr__(self) -> str:
        return f"Shape(nodes={self.nodes}, cores={self.cores}, gpus={self.gpus})"

    def encode(self) -> str:
        return f"{self.nodes};{self.cores};{self.gpus}"

    @classmethod
    def decode(cls, text: str) -> Shape:
        n, c, g = (int(x) for x in text.split(";"))
        return cls(n, c, g)

    def hostname(self, rank: int) -> str:
        host = socket.gethostname().split(".")[0] or "localhost"
        return host if self.nodes == 1 else f"{host}{rank}"

    def nodelist(self, ranks: list[int]) -> str:
        if not ranks:
            return ""
        if self.nodes == 1:
            return self.hostname(0)
        host = self.hostname(0)[:-1]
        return f"{host}{idset(ranks)}" if len(ranks) == 1 else f"{host}[{idset(ranks)}]"


def idset(ids: list[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``0-2,5`` (flux's idset notation)."""
    out: list[str] = []
    ids = sorted(ids)
    i = 0
    while i < len(ids):
        j = i
        while j + 1 < len(ids) and ids[j + 1] == ids[j] + 1:
            j += 1
        out.append(str(ids[i]) if i == j else f"{ids[i]}-{ids[j]}")
        i = j + 1
    return ",".join(out)


def _bracket(ids: list[int]) -> str:
    text = idset(ids)
    return text if len(ids) == 1 else f"[{text}]"


class Request:
    """What a jobspec asks for: ``slots`` slots of ``cores`` cores and ``gpus`` GPUs, on ``nnodes`` nodes."""

    def __init__(self, slots: int, cores: int, gpus: int, nnodes: int | None, exclusive: bool) -> None:
        self.slots, self.cores, self.gpus, self.nnodes, self.exclusive = slots, cores, gpus, nnodes, exclusive


def request_of(jobspec: dict[str, Any]) -> Request:
    top = jobspec["resources"][0]
    nnodes, exclusive = None, False
    if top.get("type") == "node":
        nnodes, exclusive = int(top["count"]), bool(top.get("exclusive", False))
        slot = top["with"][0]
        slots = int(slot["count"]) * nnodes
    else:
        slot = top
        slots = int(slot["count"])
    cores = gpus = 0
    for child in slot.get("with", []):
        if child["type"] == "core":
            cores = int(child["count"])
        elif child["type"] == "gpu":
            gpus = int(child["count"])
    return Request(slots, cores, gpus, nnodes, exclusive)


def _slots_fitting(free_cores: int, free_gpus: int, req: Request) -> int:
    n = free_cores // req.cores if req.cores else free_cores
    if req.gpus:
        n = min(n, free_gpus // req.gpus)
    return n


def place(shape: Shape, req: Request, free: list[tuple[list[int], list[int]]]) -> list[list[Any]] | None:
    """First-fit placement on ``free`` (per rank: free core ids, free gpu ids); None when it does not fit now."""
    alloc: list[list[Any]] = []
    if req.nnodes is None:
        left = req.slots
        for rank, (cores, gpus) in enumerate(free):
            n = min(left, _slots_fitting(len(cores), len(gpus), req))
            if n:
                alloc.append([rank, cores[:n * req.cores], gpus[:n * req.gpus], n])
                left -= n
            if not left:
                return alloc
        return None
    per_node = -(-req.slots // req.nnodes)
    per_node_slots = [per_node] * req.nnodes
    for rank, (cores, gpus) in enumerate(free):
        whole = len(cores) == shape.cores and len(gpus) == shape.gpus
        if req.exclusive and not whole:
            continue
        if _slots_fitting(len(cores), len(gpus), req) >= per_node:
            n = per_node_slots[len(alloc)]
            if req.exclusive:
                alloc.append([rank, list(cores), list(gpus), n])
            else:
                alloc.append([rank, cores[:n * req.cores], gpus[:n * req.gpus], n])
            if len(alloc) == req.nnodes:
                return alloc
    return None


def unsatisfiable(shape: Shape, req: Request) -> str | None:
    """flux's note when ``req`` can never fit the instance (None when it can)."""
    empty = [(list(range(shape.cores)), list(range(shape.gpus))) for _ in range(shape.nodes)]
    if place(shape, req, empty) is not None:
        return None
    if req.nnodes is not None and req.nnodes > shape.nodes:
        return f"unsatisfiable request: need {req.nnodes} node(s), only {shape.nodes} available"
    total = _slots_fitting(shape.cores, shape.gpus, req) * shape.nodes
    if req.nnodes is not None:
        per_node = -(-req.slots // req.nnodes)
        return (f"unsatisfiable request: need {per_node} slot(s) of {req.cores} core(s) on each of {req.nnodes} "
                f"node(s), only {_slots_fitting(shape.cores, shape.gpus, req)} such slot(s) per node available")
    what = f"{req.cores} core(s)" + (f" and {req.gpus} gpu(s)" if req.gpus else "")
    totals = f"total cores: {shape.cores * shape.nodes}" + (f", gpus: {shape.gpus * shape.nodes}" if req.gpus else "")
    return f"unsatisfiable request: need {req.slots} slot(s) of {what}, only {total} such slot(s) available ({totals})"


def free_resources(shape: Shape, allocs: list[list[list[Any]]]) -> list[tuple[list[int], list[int]]]:
    used_c: list[set[int]] = [set() for _ in range(shape.nodes)]
    used_g: list[set[int]] = [set() for _ in range(shape.nodes)]
    for alloc in allocs:
        for rank, cores, gpus, _ in alloc:
            used_c[rank].update(cores)
            used_g[rank].update(gpus)
    return [([c for c in range(shape.cores) if c not in used_c[r]], [g for g in range(shape.gpus) if g not in used_g[r]])
            for r in range(shape.nodes)]


def summary(alloc: list[list[Any]]) -> str:
    """The ``alloc`` event's ``resource_summary``: ``rank0/core[0-1]``, ``rank0/core0,gpu0`` ..."""
    parts = []
    for rank, cores, gpus, _ in alloc:
        text = f"rank{rank}/core{_bracket(cores)}"
        if gpus:
            text += f",gpu{_bracket(gpus)}"
        parts.append(text)
    return " ".join(parts)
