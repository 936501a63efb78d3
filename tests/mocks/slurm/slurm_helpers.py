"""Shared by the mock SLURM tests (imported by name: the tests directory is on sys.path)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

#: ``run("srun", "-n1", "true")`` -> CompletedProcess (the ``run`` fixture)
Run = Callable[..., subprocess.CompletedProcess[str]]
