"""The ``cluster`` fixture: every conformance scenario runs once on the mock SLURM and once on a real SLURM.

* ``mock``: a fresh :class:`pytest_executorlib.mocks.slurm.MockSlurm` (1 node, 4 CPUs) per test.
* ``real``: the SLURM that ``sinfo`` reaches within 5 s, with ``SLURM_CONF`` from the environment or, when that is
  unset, the one ci/start-slurm.sh writes (``/tmp/xlib-slurm/slurm.conf``, folder overridable with
  ``XLIB_SLURM_DIR``).  Without an answering SLURM the real tests skip, quoting what sinfo said — except with
  ``CI=true``, where they fail: CI must prove the mock's fidelity against the real thing.

Scenarios marked ``slurm_slow`` (real time limits: a 1-minute limit takes ~80 s on real SLURM) run only with
``CI=true`` or ``XLIB_SLURM_SLOW=1``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from slurmclusters import Cluster, find_real_slurm

IN_CI = os.environ.get("CI", "").lower() == "true"
RUN_SLOW = IN_CI or os.environ.get("XLIB_SLURM_SLOW") == "1"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slurm_slow: a long SLURM scenario (real time limits); runs only with CI=true or XLIB_SLURM_SLOW=1"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if RUN_SLOW:
        return
    skip = pytest.mark.skip(reason="slurm_slow: runs only with CI=true or XLIB_SLURM_SLOW=1 (takes ~80-100 s)")
    for item in items:
        if item.get_closest_marker("slurm_slow"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def real_slurm_env() -> dict[str, str]:
    env, said = find_real_slurm()
    if env is None:
        message = f"no real SLURM answers sinfo here ({said}); start one with: bash ci/start-slurm.sh"
        if IN_CI:
            pytest.fail(f"CI=true: {message}", pytrace=False)
        pytest.skip(message)
    # Scenarios start their own jobs: outside any allocation this pytest may run in (its srun would make steps)
    return {k: v for k, v in env.items() if k == "SLURM_CONF" or not k.startswith(("SLURM_", "PMI_"))}


@pytest.fixture(params=["mock", "real"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    """A :class:`Cluster` of the parametrised kind; its jobs run in (and are cancelled from) ``tmp_path/jobs``."""
    workdir = tmp_path / "jobs"
    workdir.mkdir()
    if request.param == "real":
        made = Cluster("real", dict(request.getfixturevalue("real_slurm_env")), workdir)
        try:
            yield made
        finally:
            made.cleanup()
        return
    from pytest_executorlib.mocks.slurm import MockSlurm

    with MockSlurm(tmp_path / "mock", nodes=1, cpus_per_node=4, gpus_per_node=0) as mock:
        made = Cluster("mock", dict(mock.environ()), workdir, mock=mock)
        try:
            yield made
        finally:
            made.cleanup()


@pytest.fixture
def slurm(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> Cluster:
    """``cluster``'s environment applied to this process, outside any allocation: ``SlurmJobExecutor`` reads
    ``os.environ`` and its sruns inherit it (the SLURM executor tests, tests/slurm/test_slurm_executor.py)."""
    for name in [n for n in os.environ if n.startswith(_ALLOCATION_VARIABLES)]:
        monkeypatch.delenv(name)  # the tests decide whether they run inside an allocation
    for name, value in cluster.env.items():
        if os.environ.get(name) != value and not name.startswith(_ALLOCATION_VARIABLES):
            monkeypatch.setenv(name, value)
    return cluster


_ALLOCATION_VARIABLES = (
    "SLURM_JOB", "SLURM_STEP", "SLURM_NTASKS", "SLURM_NPROCS", "SLURM_CPUS", "SLURM_NNODES", "SLURM_NODELIST",
    "SLURM_PROCID", "SLURM_LOCALID", "SLURM_NODEID", "SLURMD_NODENAME",
)  # fmt: skip
