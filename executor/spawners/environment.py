"""Environment variables a worker gets from its resources."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Thread pools of the common numerical libraries; all are set so a call gets exactly what it asked for.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


def worker_environment(resources: Mapping[str, Any]) -> dict[str, str]:
    """Variables to set in the worker for ``resources`` (on top of the caller's environment)."""
    threads = str(resources.get("threads_per_core", 1))
    return {name: threads for name in THREAD_VARIABLES}
