"""``xlib mock-env flux [--nodes N] [--cores-per-node N] [--gpus-per-node N]``: the mock flux for any program.

Prints POSIX ``export`` lines: ``PATH`` (the ``flux`` shim first), ``PYTHONPATH`` (the mock ``flux`` package)
and ``XLIB_MOCK_FLUX_SHAPE`` (the shape ``flux start`` gives its instance).  Nothing runs yet: as with real
flux, ``flux start CMD`` creates an instance for CMD and removes it when CMD exits, so nothing outlives it.
The shim lives in ``$XDG_CACHE_HOME/pytest-executorlib/mock-flux-<hash>/bin`` (one per Python and package
location, rewritten when it changes), not in a temporary directory.
"""

from __future__ import annotations

import os
import shlex
from typing import TextIO

from pytest_executorlib.mocks.flux.instance import PACKAGE_DIR, SHAPE_VARIABLE, shared_bin_dir, write_shim
from pytest_executorlib.mocks.flux.resources import Shape


def start(nodes: int, cores_per_node: int, gpus_per_node: int, out: TextIO) -> int:
    shape = Shape(nodes, cores_per_node, gpus_per_node)
    bin_dir = shared_bin_dir()
    write_shim(bin_dir)
    path = os.environ.get("PATH", os.defpath)
    pythonpath = os.environ.get("PYTHONPATH", "")
    out.write(f"export PATH={shlex.quote(str(bin_dir) + os.pathsep + path)}\n")
    out.write(f"export PYTHONPATH={shlex.quote(PACKAGE_DIR + (os.pathsep + pythonpath if pythonpath else ''))}\n")
    out.write(f"export {SHAPE_VARIABLE}={shlex.quote(shape.encode())}\n")
    return 0
