"""Entry point of ``python -m executor`` and of the ``xlib`` console script.

Each command group lives in its own module under ``executor/cli/`` and registers itself through
``add_parser``/``run``; this module only builds the top-level parser and dispatches.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from executor._version import __version__
from executor.cli import cache, doctor, mock_env


def build_parser() -> argparse.ArgumentParser:
    """The top-level argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m executor", description="Tools of the pytest-executorlib reference executor."
    )
    parser.add_argument("--version", action="version", version=f"pytest-executorlib {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="{cache,doctor,mock-env}")
    commands.required = True
    cache.add_parser(commands)
    doctor.add_parser(commands)
    mock_env.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; returns the exit status (0 success, 2 usage error, 1 other errors)."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "cache":
            return cache.run(args, sys.stdout)
        if args.command == "doctor":
            return doctor.run(args, sys.stdout)
        if args.command == "mock-env":
            return mock_env.run(args, sys.stdout)
    except BrokenPipeError:  # `... | head`
        return 0
    return 2  # pragma: no cover - argparse rejects unknown commands first


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
