"""The ``flux_target`` fixture -- the mock instance, or a real flux instance when this
process runs inside one with the real bindings importable (param ``real``, skipped with the reason otherwise)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_executorlib.mocks.flux.instance import PACKAGE_DIR, MockFlux


def real_flux_missing() -> str | None:
    """Why the real flux cannot be used here (None when it can)."""
    if not os.environ.get("FLUX_URI"):
        return "not inside a real flux instance (FLUX_URI is unset; flux-core is not installable here)"
    spec = importlib.util.find_spec("flux")
    if spec is None or spec.origin is None or spec.origin.startswith(PACKAGE_DIR):
        return "the real flux Python bindings are not importable (only the mock flux is)"
    return None


@dataclass
class Target:
    """Where the flux commands and ``import flux`` go: ``kind`` "mock" or "real"."""

    kind: str
    env: dict[str, str]
    cwd: Path
    mock: MockFlux | None

    def run(self, *argv: str, timeout: float = 60, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run a command (``flux ...``) inside the instance, in ``cwd``, bounded by ``timeout``."""
        kwargs.setdefault("cwd", self.cwd)
        kwargs.setdefault("env", self.env)
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, **kwargs)

    @property
    def ncores(self) -> int:
        import flux
        import flux.resource.list

        return int(flux.resource.list.resource_list(flux.Flux()).get().up.ncores)


@pytest.fixture(params=["mock", "real"])
def flux_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    work = tmp_path / "work"
    work.mkdir()
    if request.param == "real":
        reason = real_flux_missing()
        if reason:
            pytest.skip(reason)
        yield Target("real", dict(os.environ), work, None)
        return
    with MockFlux(tmp_path / "flux", cores_per_node=2) as mock:
        mock.activate()
        yield Target("mock", mock.environ(), work, mock)
    log = (tmp_path / "flux" / "broker.log").read_text()
    assert "Traceback" not in log, log
