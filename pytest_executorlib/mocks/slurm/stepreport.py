"""What srun prints when a step ends: SLURM 22.05's per-task error lines and stop messages, and its exit status.

``srun: error: n1: tasks 0-1: Exited with exit code 3`` (ranks with the same outcome on a node grouped),
``... task 0: Killed`` / ``Terminated`` (signals, 128+n), ``srun: Force Terminated StepId=5.0``, and the
``slurmstepd-n1: error: *** STEP 5.0 ON n1 CANCELLED AT <time> [DUE TO ...] ***`` line of a stopped step.
"""

from __future__ import annotations

import signal
import sys
import time

from pytest_executorlib.mocks.slurm import common
from pytest_executorlib.mocks.slurm.nodestate import NODE_FAILURE

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a command ~10 ms
if TYPE_CHECKING:
    from pytest_executorlib.mocks.slurm.steprun import Step

def say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _ranges(ranks: list[int]) -> str:
    ranks = sorted(ranks)
    parts, start, prev = [], ranks[0], ranks[0]
    for r in [*ranks[1:], None]:
        if r is not None and r == prev + 1:
            prev = r
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if r is not None:
            start = prev = r
    return ",".join(parts)


def report(step: Step, nodes: list[str], stopped: str | None, force_line: bool = True) -> int:
    """Print SLURM's per-task error lines and return srun's exit status."""
    groups: dict[tuple[str, str], list[int]] = {}
    rc = 0
    for rank, (code, sig) in sorted(step.codes.items()):
        if sig:
            what = signal.strsignal(sig) or f"Signal {sig}"
            rc = max(rc, 128 + sig)
        elif code:
            what = f"Exited with exit code {code}"
            rc = max(rc, code)
        else:
            continue
        groups.setdefault((nodes[rank], what), []).append(rank)
    for (node, what), ranks in groups.items():
        label = "task" if len(ranks) == 1 else "tasks"
        say(f"srun: error: {node}: {label} {_ranges(ranks)}: {what}")
    if force_line and (stopped is not None or any(sig for _, sig in step.codes.values())):
        if stopped not in ("DUE TO TIME LIMIT", NODE_FAILURE):
            say(f"srun: Force Terminated StepId={step.job['id']}.{step.step_id}")
    if stopped is not None:
        rc = max(rc, 143) if rc < 128 else rc
    return rc


def announce(step: Step, why: str, aborted: bool = False) -> None:
    """The lines of a stopped step; a node failure is (real 22.05, 3 nodes): ``srun: error: Node failure on n2``,
    ``slurmstepd-n1: error: *** STEP 5.0 ON n1 CANCELLED AT <t> DUE TO NODE FAILURE, SEE SLURMCTLD LOG FOR
    DETAILS ***``, ``srun: error: Node failure on n2``, ``srun: Job step aborted: ...``."""
    node = step.placement[0][0]
    failed = step.failed_node or node
    if why == "DUE TO TIME LIMIT" or aborted:
        say("srun: Job step aborted: Waiting up to 32 seconds for job step to finish.")
    if why == NODE_FAILURE:
        say(f"srun: error: Node failure on {failed}")
    suffix = f" {why}" if why else ""
    say(f"slurmstepd-{node}: error: *** STEP {step.job['id']}.{step.step_id} ON {node} CANCELLED AT "
         f"{common.iso(time.time())}{suffix} ***")
    if why == NODE_FAILURE:
        say(f"srun: error: Node failure on {failed}")
        say("srun: Job step aborted: Waiting up to 32 seconds for job step to finish.")
