"""Multi-node SLURM step latency, mock vs real, in the same run, interleaved: ``srun -N3 -n3 true``.

    python benchmarks/slurm_multinode.py [--rounds 7]

The real cluster is ci/start-slurm-multinode.sh's (``XLIB_SLURM_MULTINODE_CONF``, else
/tmp/xlib-slurm-multi/slurm.conf); the mocks are fresh ``MockSlurm(nodes=3, cpus_per_node=2)`` clusters, one with
per-node host names (``node_hostnames=True``: each task started through ``unshare --uts --mount``, needs root)
and one without, so the price of the host names is measured in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from common import interleave, table  # noqa: E402

from pytest_executorlib.slurm_probe import probe_sinfo  # noqa: E402

CI_CONF = Path(os.environ.get("XLIB_SLURM_MULTI_DIR", "/tmp/xlib-slurm-multi")) / "slurm.conf"


def real_env() -> dict[str, str] | None:
    conf = os.environ.get("XLIB_SLURM_MULTINODE_CONF") or str(CI_CONF)
    env = {**os.environ, "SLURM_CONF": conf}
    answer = probe_sinfo(env=env)
    if not answer.ok:
        print(f"real multi-node SLURM: not measured ({answer.detail}); start one with: bash ci/start-slurm-multinode.sh")
        return None
    return env


def srun_three_nodes(env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(["srun", "-N3", "-n3", "true"], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    return elapsed * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    from pytest_executorlib.mocks.slurm import MockSlurm

    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="xlib-bench-multinode-")))
        envs: dict[str, dict[str, str]] = {}
        real = real_env()
        if real is not None:
            envs["real SLURM 22.05, 3 nodes"] = real
        for hostnames in (True, False):
            try:
                mock = stack.enter_context(MockSlurm(work / f"mock-{hostnames}", nodes=3, cpus_per_node=2,
                                                     node_hostnames=hostnames))
            except RuntimeError as exc:
                print(f"mock with node_hostnames=True: not measured ({exc})")
                continue
            envs[f"mock, node_hostnames={hostnames}"] = dict(mock.environ())
        baseline = "real SLURM 22.05, 3 nodes" if real is not None else None
        cases: dict[str, Callable[[], float]] = {name: functools.partial(srun_three_nodes, env, work)
                                                 for name, env in envs.items()}
        for run in cases.values():  # warm-up
            run()
        table("srun -N3 -n3 true", "ms", interleave(cases, args.rounds), baseline)


if __name__ == "__main__":
    main()
