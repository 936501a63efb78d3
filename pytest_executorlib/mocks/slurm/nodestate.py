"""Node states of the mock cluster: which nodes an administrator (``scontrol update``) or a test took down.

Real SLURM 22.05 (observed on a 3-node cluster, ci/start-slurm-multinode.sh): ``scontrol update nodename=n2
state=down reason=why`` makes n2 ``down`` in ``sinfo``; every job running on it ends at once -- an ``srun`` job
with ``srun: error: Node failure on n2`` and ``*** STEP <j>.0 ON n1 CANCELLED AT <t> DUE TO NODE FAILURE, SEE
SLURMCTLD LOG FOR DETAILS ***`` (rc 143, state NODE_FAIL), a batch job is requeued (PENDING, ``Restarts=1``);
``state=drain`` lets running jobs finish but starts no new one there; ``state=resume`` brings the node back.
A job that needs the down node waits (``Reason=ReqNodeNotAvail,_UnavailableNodes:n2``; a waiting srun says ``srun: Required node not available (down, drained or
reserved)``).  Downing or draining without a reason is refused: ``You must specify a reason when DOWNING or
DRAINING a node. Request denied`` (rc 1); an unknown node is ``slurm_update error: Invalid node name
specified`` (rc 1).

Stored in table ``nodes`` of the cluster database (one row per node that is not up); the controller applies
the consequences at its next scheduling pass (:meth:`Controller.schedule`), woken by the caller.
"""

from __future__ import annotations

import time
TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a command ~10 ms
if TYPE_CHECKING:
    from typing import Any

from pytest_executorlib.mocks.slurm import db

#: The pending reason of a job that needs a node that is down or drained (``scontrol`` spelling; ``squeue``
#: prints spaces for the underscores), followed by the unavailable nodes.  Real 22.05 shows this one once the
#: main scheduler has looked at the job, ``Nodes_required_for_job_are_DOWN,_DRAINED_or_reserved_for_jobs_in_
#: higher_priority_partitions`` right after submission.
REASON_NODES_DOWN = "ReqNodeNotAvail,_UnavailableNodes:"
#: What the node-failure stop messages end with (real 22.05).
NODE_FAILURE = "DUE TO NODE FAILURE, SEE SLURMCTLD LOG FOR DETAILS"


def expand(text: str) -> list[str]:
    """SLURM host lists: ``n[1-2,4],n7`` -> ``["n1", "n2", "n4", "n7"]`` (ValueError when malformed)."""
    out: list[str] = []
    depth, item = 0, ""
    items = []
    for c in text:
        depth += c == "["
        depth -= c == "]"
        if c == "," and depth == 0:
            items.append(item)
            item = ""
        else:
            item += c
    items.append(item)
    for item in items:
        if not item:
            continue
        if "[" not in item:
            out.append(item)
            continue
        prefix, _, rest = item.partition("[")
        if not rest.endswith("]"):
            raise ValueError(text)
        for part in rest[:-1].split(","):
            lo, _, hi = part.partition("-")
            for n in range(int(lo), int(hi or lo) + 1):
                out.append(f"{prefix}{n}")
    return out


def unavailable(conn: Any) -> dict[str, tuple[str, str, float]]:
    """Nodes that take no new job: name -> (state ``down``/``drain``, reason, since)."""
    return {r[0]: (r[1], r[2], r[3]) for r in conn.execute("SELECT name, state, reason, since FROM nodes")}


def update(conn: Any, names: list[str], state: str, reason: str) -> None:
    """Record ``state`` (``down``, ``drain`` or ``resume``) for ``names`` (the caller validated them)."""
    with db.write(conn):
        for name in names:
            if state == "resume":
                conn.execute("DELETE FROM nodes WHERE name=?", (name,))
            else:
                conn.execute("INSERT OR REPLACE INTO nodes VALUES(?,?,?,?)", (name, state, reason, time.time()))
