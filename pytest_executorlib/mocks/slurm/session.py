"""pytest integration of the mock SLURM: the ``--xlib-backend=mock-slurm`` session cluster and the ``mock_slurm``
fixture.

* :func:`backend_session` (entered by :mod:`pytest_executorlib.backends` for the whole session): one mock
  cluster per pytest process (each xdist worker has its own) in a temporary directory, activated on
  ``os.environ`` so every executor, ``subprocess`` and ``srun`` of the session finds the mock first on PATH;
  stopped and removed at the end of the session.  Shape: 1 node with ``max(4, cores)`` CPUs, or
  ``--xlib-mock-slurm-nodes=N`` (env ``XLIB_MOCK_SLURM_NODES``, ini ``xlib_mock_slurm_nodes``) nodes and
  ``XLIB_MOCK_SLURM_CPUS`` / ``XLIB_MOCK_SLURM_GPUS`` per node.
* :func:`fresh_cluster`, the body of the ``mock_slurm`` fixture (function scope): a fresh cluster for one test, shaped by the ``mock_slurm(...)`` marker
  (``MockSlurm``'s keyword arguments), activated for the test (it takes precedence over the session cluster),
  stopped at teardown -- its control API is the fixture's value.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_executorlib.mocks.slurm.cluster import MockSlurm

#: The session cluster of ``--xlib-backend=mock-slurm`` (``config.stash[session_cluster_key]``).
session_cluster_key = pytest.StashKey[MockSlurm]()


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - no affinity mask
        return os.cpu_count() or 1


def _int_env(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise pytest.UsageError(f"{name}={text!r}: expected an integer") from None


def session_nodes(config: pytest.Config) -> int:
    """The session cluster's node count (``--xlib-mock-slurm-nodes``); a usage error naming where it was given."""
    from pytest_executorlib.options import resolve_setting

    resolved = resolve_setting(config, "mock_slurm_nodes")
    try:
        nodes = int(str(resolved.value))
    except ValueError:
        nodes = 0
    if nodes < 1:
        raise pytest.UsageError(f"{resolved.given}: the mock SLURM's node count must be a whole number >= 1")
    return nodes


@contextlib.contextmanager
def backend_session(config: pytest.Config) -> Iterator[None]:
    """A mock cluster for the whole session, on PATH until the session ends."""
    root = Path(tempfile.mkdtemp(prefix="xlib-mock-slurm-"))
    try:
        try:
            cluster = MockSlurm(root / "cluster", nodes=session_nodes(config),
                                cpus_per_node=_int_env("XLIB_MOCK_SLURM_CPUS", max(4, _cores())),
                                gpus_per_node=_int_env("XLIB_MOCK_SLURM_GPUS", 0))
        except ValueError as exc:
            raise pytest.UsageError(f"--xlib-backend=mock-slurm: {exc}") from None
        with cluster:
            cluster.activate()
            config.stash[session_cluster_key] = cluster
            yield
    finally:
        shutil.rmtree(root, ignore_errors=True)


def fresh_cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockSlurm]:
    """The ``mock_slurm`` fixture's body (the fixture itself is in :mod:`pytest_executorlib.fixtures`)."""
    marker = request.node.get_closest_marker("mock_slurm")
    kwargs = dict(marker.kwargs) if marker is not None else {}
    if marker is not None and marker.args:
        raise pytest.UsageError(f"{request.node.nodeid}: mock_slurm(...) takes keyword arguments only")
    root = tmp_path_factory.mktemp("mock-slurm", numbered=True)
    try:
        cluster = MockSlurm(root / "cluster", **kwargs)
    except (TypeError, ValueError) as exc:
        raise pytest.UsageError(f"{request.node.nodeid}: mock_slurm marker: {exc}") from None
    with cluster:
        cluster.activate()
        yield cluster


def __getattr__(name: str) -> object:
    """``mock_slurm``: the fixture, defined in :mod:`pytest_executorlib.fixtures` (the public list) and reachable
    here too, where earlier versions of this branch defined it (a plugin module importing it from here keeps
    working)."""
    if name == "mock_slurm":
        from pytest_executorlib.fixtures import mock_slurm

        return mock_slurm
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
