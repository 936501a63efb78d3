"""Entry point of the ``xlib`` console script and of ``python -m executor``.

Each command group lives in its own module under ``executor/cli/`` and registers itself through
``add_parser``/``run``; this module only builds the top-level parser and dispatches.  The program name in
usage and help texts is the way the user called it (``xlib`` or ``python -m executor``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from executor._version import __version__
from executor.cli import cache, doctor


#: Program name of the console script (``[project.scripts]`` in pyproject.toml).
PROG = "xlib"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The top-level argument parser; ``prog`` is the command shown in usage and help texts."""
    parser = argparse.ArgumentParser(prog=prog, description="Tools of the pytest-executorlib reference executor.")
    parser.add_argument("--version", action="version", version=f"pytest-executorlib {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="{cache,doctor}")
    commands.required = True
    cache.add_parser(commands)
    doctor.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run a command; returns the exit status (0 success, 2 usage error, 1 other errors)."""
    args = build_parser(prog).parse_args(argv)
    try:
        if args.command == "cache":
            return cache.run(args, sys.stdout)
        if args.command == "doctor":
            return doctor.run(args, sys.stdout)
    except BrokenPipeError:  # `... | head`
        return 0
    return 2  # pragma: no cover - argparse rejects unknown commands first


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
