"""GPU devices a worker may use, handed out through ``CUDA_VISIBLE_DEVICES``.

The devices this process may hand out are, in order of precedence: the ones in its own
``CUDA_VISIBLE_DEVICES`` (so a batch system's assignment, or a list declared for testing, is respected), else
the GPUs ``nvidia-smi`` lists, else none.  Each running call gets distinct devices.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping

_DETECT_TIMEOUT = 10.0  # nvidia-smi can hang on a broken driver: give up and assume no GPUs


def visible_devices() -> list[str]:
    declared = os.environ.get("CUDA_VISIBLE_DEVICES")
    if declared is not None:
        return [d.strip() for d in declared.split(",") if d.strip() and d.strip() != "NoDevFiles"]
    import shutil  # here: only a call that asks for GPUs pays for importing it

    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=_DETECT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [str(i) for i, line in enumerate(out.stdout.splitlines()) if line.startswith("GPU ")]


def needed(resources: Mapping[str, object]) -> int:
    return int(resources.get("gpus_per_core") or 0) * int(resources.get("cores") or 1)  # type: ignore[call-overload]


def environment(devices: list[str]) -> dict[str, str]:
    return {"CUDA_VISIBLE_DEVICES": ",".join(devices)} if devices else {}
