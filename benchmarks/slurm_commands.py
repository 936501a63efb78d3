"""SLURM command latency, mock vs real, in the same run, interleaved: ``srun -n1 true`` and sbatch -> finished.

    python benchmarks/slurm_commands.py [--rounds 7]

The real SLURM is the one ``SLURM_CONF`` names, else the one ci/start-slurm.sh runs (/tmp/xlib-slurm); the mock is
a fresh ``MockSlurm`` (1 node, 4 CPUs).  "sbatch -> finished" submits ``#!/bin/sh\\ntrue`` with ``--parsable`` and
polls ``scontrol -o show job`` every 20 ms until the job is COMPLETED (the same polling on both, so its cost is
in both figures).  Targets (issue 10): mock ``srun -n1 true`` <= 2x the real one; mock sbatch -> finished <= 200 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from common import interleave, table  # noqa: E402

from pytest_executorlib.slurm_probe import probe_sinfo  # noqa: E402

CI_CONF = Path(os.environ.get("XLIB_SLURM_DIR", "/tmp/xlib-slurm")) / "slurm.conf"


def real_env() -> dict[str, str] | None:
    env = dict(os.environ)
    if "SLURM_CONF" not in env and CI_CONF.is_file():
        env["SLURM_CONF"] = str(CI_CONF)
    answer = probe_sinfo(env=env)
    if not answer.ok:
        print(f"real SLURM: not measured ({answer.detail}); start one with: bash ci/start-slurm.sh")
        return None
    pending = subprocess.run(["squeue", "--noheader", "-t", "PD", "--format=%A %C %R"], env=env, capture_output=True, text=True, timeout=30)
    if pending.stdout.strip():
        # Real SLURM schedules a new job at submission only when no pending job is ahead of it in the partition;
        # otherwise it waits for the next scheduling pass (~1 s): the figures below then measure that.
        print(f"note: the real SLURM has pending jobs (jobid cpus reason): {pending.stdout.split(chr(10))[:5]}; "
              "each new job then waits for a scheduling pass (~1 s)")
    return env


def srun_true(env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(["srun", "-n1", "true"], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    return elapsed * 1000


def sbatch_finished(env: dict[str, str], cwd: Path) -> float:
    script = cwd / "true.sh"
    script.write_text("#!/bin/sh\ntrue\n")
    start = time.perf_counter()
    done = subprocess.run(["sbatch", "--parsable", str(script)], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    job = done.stdout.strip()
    deadline = start + 60
    while time.perf_counter() < deadline:
        shown = subprocess.run(["scontrol", "-o", "show", "job", job], env=env, capture_output=True, text=True, timeout=30)
        if "JobState=COMPLETED" in shown.stdout:
            return (time.perf_counter() - start) * 1000
        assert "JobState=FAILED" not in shown.stdout, shown.stdout
        time.sleep(0.02)
    raise RuntimeError(f"job {job} not COMPLETED within 60 s: {shown.stdout or shown.stderr}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="xlib-bench-slurm-")))
        envs: dict[str, dict[str, str]] = {}
        real = real_env()
        if real is not None:
            envs["real SLURM 22.05"] = real
        try:
            from pytest_executorlib.mocks.slurm import MockSlurm
        except ImportError as exc:
            print(f"mock SLURM: not measured ({exc})")
        else:
            mock = stack.enter_context(MockSlurm(work / "mock", nodes=1, cpus_per_node=4, gpus_per_node=0))
            envs["mock SLURM"] = dict(mock.environ())
        if not envs:
            raise SystemExit("nothing to measure")
        baseline = "real SLURM 22.05" if real is not None else None
        for what, case in (("srun -n1 true", srun_true), ("sbatch -> COMPLETED", sbatch_finished)):
            cases = {name: (lambda env=env, case=case: case(env, work)) for name, env in envs.items()}
            for run in cases.values():  # warm-up: first calls pay for caches and imports
                run()
            table(what, "ms", interleave(cases, args.rounds), baseline)


if __name__ == "__main__":
    main()
