"""``xlib mock-env slurm [--nodes N] [--cpus-per-node N] [--gpus-per-node N] [--stop]`` and
``xlib mock-env flux [--nodes N] [--cores-per-node N] [--gpus-per-node N]``.

The mock clusters belong to the pytest plugin package (``pytest_executorlib.mocks``); the executor package must
not import it at import time, so this module only defines the arguments and imports the mock when the command
runs (both packages ship in the same distribution, so it is always there).  A separate console script would
have worked too, but one ``xlib`` keeps the tools in one place.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any, TextIO


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "mock-env",
        help="print shell lines that put a fresh mock cluster on PATH: eval \"$(xlib mock-env slurm)\"",
        description="Start a mock cluster and print POSIX export lines for it (eval \"$(xlib mock-env slurm)\"); "
        "--stop ends it and prints the lines that undo the exports.",
    )
    parser.add_argument("kind", choices=["slurm", "flux"], help="the mock: slurm or flux")
    parser.add_argument("--nodes", type=_positive, default=1, help="number of nodes (default 1)")
    parser.add_argument("--cpus-per-node", type=_positive, default=4, help="CPUs per node (slurm; default 4)")
    parser.add_argument("--cores-per-node", type=_positive, default=4, help="cores per node (flux; default 4)")
    parser.add_argument("--gpus-per-node", type=_count, default=0, help="GPUs per node (default 0)")
    parser.add_argument("--stop", action="store_true",
                        help="slurm: stop the cluster named by XLIB_MOCK_SLURM_ROOT (its jobs too) and remove it "
                        "(flux needs none: `flux start CMD` ends its instance with CMD)")


def run(args: argparse.Namespace, out: TextIO, err: TextIO = sys.stderr) -> int:
    if args.kind == "flux":
        if args.stop:
            err.write("xlib mock-env flux: --stop is for slurm; a mock flux instance ends with its `flux start` "
                      "command\n")
            return 2
        flux_env = importlib.import_module("pytest_executorlib.mocks.flux.mockenv")
        return int(flux_env.start(args.nodes, args.cores_per_node, args.gpus_per_node, out))
    mockenv = importlib.import_module("pytest_executorlib.mocks.slurm.mockenv")
    if args.stop:
        return int(mockenv.stop(out, err))
    return int(mockenv.start(args.nodes, args.cpus_per_node, args.gpus_per_node, out))
