"""``flux.resource.list.resource_list(h).get()``: the instance's resources (all, down, allocated, up, free)."""

from __future__ import annotations

import json
from typing import Any


class ResourceSet:
    """A set of (rank -> cores, gpus): ``.ncores``, ``.ngpus``, ``.nnodes``, ``.nodelist``, ``.ranks``."""

    def __init__(self, shape: Any, ranks: dict[int, tuple[set[int], set[int]]]) -> None:
        self._shape = shape
        self._ranks = {r: v for r, v in ranks.items() if v[0] or v[1]}

    @property
    def ncores(self) -> int:
        return sum(len(c) for c, _ in self._ranks.values())

    @property
    def ngpus(self) -> int:
        return sum(len(g) for _, g in self._ranks.values())

    @property
    def nnodes(self) -> int:
        return len(self._ranks)

    @property
    def ranks(self) -> list[int]:
        return sorted(self._ranks)

    @property
    def nodelist(self) -> list[str]:
        return [self._shape.hostname(r) for r in sorted(self._ranks)]

    def __sub__(self, other: ResourceSet) -> ResourceSet:
        out = {}
        for r, (c, g) in self._ranks.items():
            oc, og = other._ranks.get(r, (set(), set()))
            out[r] = (c - oc, g - og)
        return ResourceSet(self._shape, out)


class SchedResourceList:
    def __init__(self, all: ResourceSet, down: ResourceSet, allocated: ResourceSet) -> None:  # noqa: A002
        self.all = all
        self.down = down
        self.allocated = allocated

    @property
    def up(self) -> ResourceSet:
        return self.all - self.down

    @property
    def free(self) -> ResourceSet:
        return self.up - self.allocated


class ResourceListRPC:
    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def get(self) -> SchedResourceList:
        inst = self._handle.instance
        shape = inst.shape
        full = {r: (set(range(shape.cores)), set(range(shape.gpus))) for r in range(shape.nodes)}
        used: dict[int, tuple[set[int], set[int]]] = {}
        for (alloc,) in inst.conn.execute("SELECT alloc FROM jobs WHERE state IN ('RUN','CLEANUP') AND alloc != ''"):
            for rank, cores, gpus, _ in json.loads(alloc):
                c, g = used.setdefault(rank, (set(), set()))
                c.update(cores)
                g.update(gpus)
        return SchedResourceList(ResourceSet(shape, full), ResourceSet(shape, {}), ResourceSet(shape, used))


def resource_list(flux_handle: Any, nodeid: int = 0) -> ResourceListRPC:
    return ResourceListRPC(flux_handle)
