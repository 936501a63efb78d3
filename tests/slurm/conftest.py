"""The ``slurm`` fixture: each SLURM executor test runs once against the mock SLURM and once against a real one.

``mock``: ``pytest_executorlib.mocks.slurm.MockSlurm`` (a fresh mock cluster per test, its commands first on
PATH).  ``real``: the SLURM that ``SLURM_CONF`` (or ``ci/start-slurm.sh``'s default ``/tmp/xlib-slurm``) names,
used only if ``sinfo`` answers within a few seconds; off CI a missing SLURM skips with the reason, on CI
(``CI=true``) it fails: CI starts one (``ci/start-slurm.sh``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONF = "/tmp/xlib-slurm/slurm.conf"  # where ci/start-slurm.sh puts it
_SINFO_TIMEOUT = 10.0


@dataclass
class Slurm:
    """The SLURM a test runs against; its environment is already applied to ``os.environ``."""

    kind: str  # "mock" or "real"
    env: dict[str, str]
    control: object | None = None  # the mock's control object (None for real SLURM)
    jobs: list[str] = field(default_factory=list)

    @property
    def real(self) -> bool:
        return self.kind == "real"

    def run(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run a SLURM command (``scancel``, ``squeue``...) of this cluster, bounded."""
        return subprocess.run(list(args), env=self.env, capture_output=True, text=True, timeout=timeout, check=False)


def _answers(env: dict[str, str]) -> str | None:
    """None if ``sinfo`` answers in ``env``, else why not."""
    sinfo = shutil.which("sinfo", path=env.get("PATH"))
    if sinfo is None:
        return "sinfo is not on PATH"
    try:
        done = subprocess.run([sinfo, "--noheader"], env=env, capture_output=True, text=True, timeout=_SINFO_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return f"sinfo did not answer within {_SINFO_TIMEOUT:g} s"
    if done.returncode != 0 or not done.stdout.strip():
        return f"sinfo failed (rc {done.returncode}): {done.stderr.strip()[:300]}"
    return None


def _real_slurm_env() -> tuple[dict[str, str] | None, str]:
    env = dict(os.environ)
    if "SLURM_CONF" not in env and os.path.exists(DEFAULT_CONF):
        env["SLURM_CONF"] = DEFAULT_CONF
    why = _answers(env)
    if why is not None and os.environ.get("CI") == "true" and (ROOT / "ci" / "start-slurm.sh").exists():
        done = subprocess.run(["bash", str(ROOT / "ci" / "start-slurm.sh")], capture_output=True, text=True, timeout=300, check=False)
        if done.returncode == 0:
            env["SLURM_CONF"] = done.stdout.strip()
            why = _answers(env)
        else:
            why = f"ci/start-slurm.sh failed: {done.stderr[-2000:]}"
    return (env, "") if why is None else (None, why)


@pytest.fixture(params=["mock", "real"])
def slurm(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Slurm]:
    """A SLURM cluster (mock or real) whose commands this process and its children use."""
    for name in [n for n in os.environ if n.startswith(("SLURM_", "SLURMD_"))]:
        if name != "SLURM_CONF":
            monkeypatch.delenv(name)  # not inside an allocation unless a test says so
    if request.param == "mock":
        try:
            from pytest_executorlib.mocks.slurm import MockSlurm  # type: ignore[attr-defined]
        except ImportError as missing:
            pytest.skip(f"the mock SLURM (pytest_executorlib.mocks.slurm.MockSlurm) is not in this build: {missing}")
        with MockSlurm(tmp_path / "mock-slurm") as control:
            env = dict(control.environ())
            for name, value in env.items():
                monkeypatch.setenv(name, value)
            yield Slurm("mock", env, control)
        return
    env, why = _real_slurm_env()
    if env is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the SLURM executor tests on a real SLURM, but none answers: {why}")
        pytest.skip(f"no real SLURM answers here ({why}); CI starts one with ci/start-slurm.sh")
    monkeypatch.setenv("SLURM_CONF", env["SLURM_CONF"])
    yield Slurm("real", dict(os.environ))
