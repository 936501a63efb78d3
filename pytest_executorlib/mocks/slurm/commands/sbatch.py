"""Mock ``sbatch``: parse options and ``#SBATCH`` lines, insert a PENDING job, wake the controller, return.

As real SLURM: the script must start with ``#!``; ``#SBATCH`` lines count only before the first command
(command-line options win over them); ``--parsable`` prints ``<id>``, otherwise ``Submitted batch job <id>``;
the submitter's environment is exported; ``--wrap`` builds a ``#!/bin/sh`` script.  The job starts
asynchronously (the controller), so sbatch returns at once.
"""

from __future__ import annotations

import os
import shlex
import sys

from pytest_executorlib.mocks.slurm import common, db, submit
from pytest_executorlib.mocks.slurm.options import parse


def _directives(script: str) -> list[str]:
    """The ``#SBATCH`` arguments before the first command (blank lines and comments do not end them)."""
    args: list[str] = []
    for line in script.splitlines()[1:]:
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            break
        if stripped.startswith("#SBATCH"):
            rest = stripped[len("#SBATCH"):]
            if rest[:1] in (" ", "\t"):
                body = rest.split(" #", 1)[0] if " #" in rest else rest
                try:
                    args.extend(shlex.split(body))
                except ValueError:
                    args.extend(body.split())
    return args


def main(cluster: common.Cluster, argv: list[str]) -> int:
    opts, rest = parse("sbatch", argv)
    if "wrap" in opts:
        script, script_name, script_args = f"#!/bin/sh\n# This script was created by sbatch --wrap.\n\n{opts['wrap']}\n", "wrap", rest
    elif rest:
        path = rest[0]
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as fh:
                script = fh.read()
        except OSError as exc:
            cluster.error(f"Unable to open file {path}: {exc.strerror}", 1)
        script_name, script_args = os.path.basename(path), rest[1:]
    else:
        script = sys.stdin.read()
        script_name, script_args = "sbatch", []
    if not script.startswith("#!"):
        sys.stderr.write("sbatch: error: This does not look like a batch script.  The first\n"
                         "sbatch: error: line must start with #! followed by the path to an interpreter.\n"
                         "sbatch: error: For instance: #!/bin/sh\n")
        return 1
    file_opts, _ = parse("sbatch", _directives(script))
    merged = {**file_opts, **opts}
    cwd = submit.current_dir()
    workdir = os.path.join(cwd, merged["chdir"]) if "chdir" in merged else cwd
    job = submit.build(cluster, merged, script_name, workdir, "batch")
    job["stdout"] = merged.get("output", "slurm-%j.out")
    job["stderr"] = merged.get("error", "")
    job["command"] = os.path.abspath(rest[0]) if rest and "wrap" not in opts else "(null)"
    job["script"] = script.encode("utf-8", "surrogateescape")
    job["args"] = db.pack(script_args)  # passed to the script, as sbatch does
    env = dict(os.environ)
    try:
        job_id = submit.insert(cluster, job, env, "ntasks" in merged)
    except submit.Rejected as exc:
        cluster.error(f"Batch job submission failed: {exc}", 1)
    cluster.wake()
    if "parsable" in merged:
        sys.stdout.write(f"{job_id}\n")
    else:
        sys.stdout.write(f"Submitted batch job {job_id}\n")
    return 0
