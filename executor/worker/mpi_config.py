"""How a launched worker gets its configuration (kept in a module of its own so the worker does not import the
parent-side spawner).

``XLIB_WORKER_CONFIG`` holds the hex of a pickled dict (address, identity, worker id, sys.path, failure file),
set by our own parent (whoever can set a process's environment can run code in it anyway).  The channel's
secret is either in it too (``key``: launchers whose ranks may run on other hosts), or, for ranks on this host
(``mpiexec``), in a file only this user can read (``key_file``) that rank 0 removes as soon as it has read it:
a process's initial environment stays readable in ``/proc/<pid>/environ`` for as long as it runs, even after
``os.environ.pop``.
"""

from __future__ import annotations

import os

# The C module: ``pickle.py`` adds ~3 ms of imports to every worker and we only need loads.
import _pickle as pickle

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs every worker ~4 ms at start-up; annotations are strings anyway
    from typing import Any

CONFIG_VARIABLE = "XLIB_WORKER_CONFIG"  # the worker removes it from its environment before running any call


def load_config() -> dict[str, Any]:
    """The configuration, removed from ``os.environ`` (so user code and its children do not inherit it)."""
    config: dict[str, Any] = pickle.loads(bytes.fromhex(os.environ.pop(CONFIG_VARIABLE)))
    return config


def take_key(config: dict[str, Any]) -> bytes:
    """The channel secret: from the config, or read from its file, which is then removed (rank 0 only)."""
    if config.get("key") is not None:
        return config["key"]  # type: ignore[no-any-return]
    path = config["key_file"]
    with open(path, "rb") as file:
        key = file.read()
    os.remove(path)
    return key
