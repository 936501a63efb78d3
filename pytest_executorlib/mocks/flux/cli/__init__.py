"""The mock ``flux`` command: ``flux start|broker|run|submit|batch|jobs|cancel|job id|resource list|getattr``.

The shim (``<bin>/flux``, ``python -I -S``) calls :func:`main`.  Commands that need an instance connect to
``$FLUX_URI``; outside an instance they fail as flux-core 0.88 does (``flux-<cmd>: ERROR: Unable to connect to
Flux: broker socket /run/flux/local was not found``, rc 1), except ``flux job id`` and ``flux start``.  Every
call inside an instance is recorded in its call log (``MockFlux.calls()``).
"""

from __future__ import annotations

import sys
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pytest_executorlib.mocks.flux.client import Instance

SUBCOMMANDS = ("start", "broker", "run", "submit", "batch", "jobs", "cancel", "job", "resource", "getattr")


class CommandError(Exception):
    """``flux-<cmd>: ERROR: <message>``, exit 1."""


def connect(command: str) -> Instance:
    from pytest_executorlib.mocks.flux.client import Instance

    try:
        return Instance.from_uri()
    except FileNotFoundError as exc:
        raise CommandError(exc.strerror) from None


def _log(argv: list[str]) -> None:
    import os

    from pytest_executorlib.mocks.flux import state

    uri = os.environ.get("FLUX_URI", "")
    if not uri.startswith("local://"):
        return
    root = os.path.dirname(uri[len("local://"):])
    if not os.path.exists(os.path.join(root, state.DB_NAME)):
        return
    try:
        conn = state.connect(root)
        try:
            state.log_call(conn, "flux", argv)
        finally:
            conn.close()
    except Exception:  # noqa: BLE001 - a call log failure must not break the command
        pass


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write("usage: flux [--help] COMMAND [ARGS...]\n(mock flux) commands: "
                         + " ".join(SUBCOMMANDS) + "\n")
        return 0 if argv else 1
    sub, rest = argv[0], argv[1:]
    if sub not in SUBCOMMANDS:
        sys.stderr.write(f"flux: '{sub}' is not a flux command (the mock flux has: {', '.join(SUBCOMMANDS)})\n")
        return 1
    if sub not in ("start", "broker"):
        _log(argv)
    try:
        if sub in ("run", "submit", "batch"):
            from pytest_executorlib.mocks.flux.cli import submit

            return submit.main(sub, rest)
        if sub == "jobs":
            from pytest_executorlib.mocks.flux.cli import jobs

            return jobs.main(rest)
        from pytest_executorlib.mocks.flux.cli import misc

        return int(getattr(misc, sub)(rest))
    except CommandError as exc:
        sys.stderr.write(f"flux-{sub}: ERROR: {exc}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        sys.stdout.flush()
