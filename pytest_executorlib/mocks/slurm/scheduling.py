"""Pure scheduling decisions: does a job fit on the free resources, can it ever fit, are its dependencies met.

No I/O here: the controller passes in rows and the free resources, and applies the decisions.

Placement: tasks fill nodes in order (``n1`` first), each node taking as many whole tasks as its free CPUs
(and GPUs, for ``--gpus-per-task``) allow; ``-N k`` takes the first ``k`` nodes with room and deals the tasks
out over them one at a time (fewer tasks than nodes: one node per task, as real SLURM warns and does);
``--ntasks-per-node t`` caps a node at ``t`` tasks; ``-w`` nodes come first and each gets a task, ``-x``
nodes are never used; ``--exclusive`` takes whole idle nodes.  Ranks are then
numbered in block order (n1's tasks first), SLURM's default distribution.
"""

from __future__ import annotations

from pytest_executorlib.mocks.slurm.shape import Shape

#: Terminal states whose afterok dependency is satisfied / never satisfiable.
_OK = ("COMPLETED",)
_DONE = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY", "BOOT_FAIL",
         "DEADLINE")


class Request:
    """What a job asks for (``nodes`` 0: as few as fit)."""

    __slots__ = ("ntasks", "cpus_per_task", "nodes", "gpus_per_task", "partition_nodes", "exclusive", "per_node",
                 "required", "excluded")

    def __init__(self, ntasks: int, cpus_per_task: int, nodes: int, gpus_per_task: int,
                 partition_nodes: tuple[int, ...], exclusive: bool = False, per_node: int = 0,
                 required: tuple[int, ...] = (), excluded: tuple[int, ...] = ()) -> None:
        self.ntasks = ntasks
        self.cpus_per_task = cpus_per_task
        self.nodes = nodes
        self.gpus_per_task = gpus_per_task
        self.partition_nodes = partition_nodes
        self.exclusive = exclusive
        self.per_node = per_node  # --ntasks-per-node (0: no limit)
        self.required = required  # -w: these nodes (indices), each with at least one task
        self.excluded = excluded  # -x: never these


def place(shape: Shape, req: Request, free_cpus: list[int], free_gpus: list[int]) -> str | None:
    """An allocation string ``n1:cpus:gpus:tasks,...`` on the free resources, or None if it does not fit now."""
    want_nodes = max(1, min(max(req.nodes, len(req.required)) or 1, req.ntasks))
    per_node: dict[int, int] = {}
    remaining = req.ntasks
    order = [*req.required, *(i for i in req.partition_nodes if i not in req.required)]
    candidates = [i for i in order if i not in req.excluded
                  and (not req.exclusive or (free_cpus[i] == shape.cpus and free_gpus[i] == shape.gpus))]
    capacity = {}
    for i in candidates:
        cap = free_cpus[i] // req.cpus_per_task
        if req.gpus_per_task:
            cap = min(cap, free_gpus[i] // req.gpus_per_task)
        if req.per_node:
            cap = min(cap, req.per_node)
        if cap > 0:
            capacity[i] = cap
    if len(capacity) < want_nodes or any(i not in capacity for i in req.required):
        return None
    if req.nodes or req.required:
        chosen = list(capacity)[:want_nodes]
        for i in chosen:  # one task on each requested node first
            per_node[i] = 1
        remaining -= len(chosen)
        while remaining:  # then round robin while room is left: -N 2 -n 4 on 4-CPU nodes is 2 + 2
            grew = False
            for i in chosen:
                if remaining and per_node[i] < capacity[i]:
                    per_node[i] += 1
                    remaining -= 1
                    grew = True
            if not grew:
                break
    else:
        for i, cap in capacity.items():
            if remaining == 0:
                break
            take = min(cap, remaining)
            per_node[i] = take
            remaining -= take
    if remaining > 0:
        return None
    parts = []
    for i, tasks in per_node.items():
        cpus = shape.cpus if req.exclusive else tasks * req.cpus_per_task
        gpus = shape.gpus if req.exclusive else tasks * req.gpus_per_task
        parts.append(f"{shape.node_name(i)}:{cpus}:{gpus}:{tasks}")
    return ",".join(parts)


def ever_fits(shape: Shape, req: Request) -> bool:
    """Whether the job fits on its partition when the partition is idle."""
    n = len(req.partition_nodes)
    return place(shape, req, [shape.cpus] * shape.nodes, [shape.gpus] * shape.nodes) is not None and req.nodes <= n


def parse_dependency(text: str) -> list[tuple[str, int]] | None:
    """``afterok:1:2,afterany:3`` -> [("afterok", 1), ("afterok", 2), ("afterany", 3)]; None if malformed.

    SLURM's comma rule: within one comma-separated item, ``type:A:B`` applies ``type`` to A and B; an item
    without a type (``afterok:A,B``) is ``afterany`` -- so ``afterok:A,B`` is afterok A AND afterany B.
    ``?`` (any of) is accepted and treated like ``,`` (all of).
    """
    out: list[tuple[str, int]] = []
    for item in text.replace("?", ",").split(","):
        if not item:
            continue
        fields = item.split(":")
        kind = fields[0] if not fields[0].isdigit() else "afterany"
        ids = fields[1:] if not fields[0].isdigit() else fields
        if kind not in ("after", "afterok", "afterany", "afternotok", "aftercorr", "singleton") or not ids and kind != "singleton":
            return None
        for job in ids:
            job = job.split("+")[0]
            if not job.isdigit():
                return None
            out.append((kind, int(job)))
    return out


def dependency_status(deps: list[tuple[str, int]], states: dict[int, str]) -> str:
    """``"ok"``, ``"wait"`` or ``"never"`` for a job's dependencies; ``states`` maps known job ids to states.

    Unknown ids (purged or never existing) count as satisfied, as real SLURM accepts them.
    """
    result = "ok"
    for kind, job in deps:
        state = states.get(job)
        if state is None:
            continue
        if kind == "after":
            if state == "PENDING":
                result = "wait"
        elif kind in ("afterany", "aftercorr"):
            if state not in _DONE:
                result = "wait"
        elif kind == "afterok":
            if state in _DONE and state not in _OK:
                return "never"
            if state not in _DONE:
                result = "wait"
        elif kind == "afternotok":
            if state in _OK:
                return "never"
            if state not in _DONE:
                result = "wait"
    return result


def describe_dependency(deps: list[tuple[str, int]], states: dict[int, str]) -> str:
    """``scontrol``'s ``Dependency=afterok:87(unfulfilled),afterany:88(unfulfilled)`` (satisfied ones dropped)."""
    parts = []
    for kind, job in deps:
        state = states.get(job)
        if state is None:
            continue
        satisfied = dependency_status([(kind, job)], states)
        if satisfied == "ok":
            continue
        parts.append(f"{kind}:{job}({'unfulfilled' if satisfied == 'wait' else 'failed'})")
    return ",".join(parts) or "(null)"
