"""Fixtures of the cluster-executor tests.

* ``slurm``: a fresh mock SLURM (the plugin's ``mock_slurm`` fixture: on ``PATH`` during the test), with
  ``partition`` = its default partition.
* ``real_slurm``: the real single-node SLURM of ci/start-slurm.sh (found as tests/slurm finds it), applied to
  ``os.environ`` for the test; skipped with sinfo's answer when there is none, failed under ``CI=true``.
* ``squeue_faults``: a ``squeue`` placed first on ``PATH`` that fails the next N calls (SLURM's own timeout
  message) and then runs the real one; returns the file holding N (write it; read it to see what is left).
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "slurm"))
from slurmclusters import find_real_slurm  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture
def slurm(mock_slurm):  # type: ignore[no-untyped-def]
    yield mock_slurm


@pytest.fixture
def real_slurm(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env, said = find_real_slurm()
    if env is None:
        message = f"no real SLURM answers sinfo here ({said}); start one with: bash ci/start-slurm.sh"
        if IN_CI:
            pytest.fail(f"CI=true: {message}", pytrace=False)
        pytest.skip(message)
    for name in list(os.environ):
        if name.startswith(("SLURM_", "PMI_")) and name != "SLURM_CONF":
            monkeypatch.delenv(name)
    if "SLURM_CONF" in env:
        monkeypatch.setenv("SLURM_CONF", env["SLURM_CONF"])
    return env


@pytest.fixture
def squeue_faults(slurm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # type: ignore[no-untyped-def]
    real = None
    for folder in os.environ["PATH"].split(os.pathsep):
        if os.access(os.path.join(folder, "squeue"), os.X_OK):
            real = os.path.join(folder, "squeue")
            break
    assert real is not None
    shim = tmp_path / "shim"
    shim.mkdir()
    counter = tmp_path / "squeue-fails-left"
    counter.write_text("0")
    script = shim / "squeue"
    script.write_text(
        "#!/bin/sh\n"
        f'left=$(cat "{counter}")\n'
        'if [ "$left" -gt 0 ]; then\n'
        f'  echo $((left - 1)) > "{counter}"\n'
        '  echo "slurm_load_jobs error: Socket timed out on send/recv operation" >&2\n'
        "  exit 1\n"
        "fi\n"
        f'exec "{real}" "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{shim}{os.pathsep}{os.environ['PATH']}")
    return counter


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[str]:
    yield str(tmp_path / "cache")
