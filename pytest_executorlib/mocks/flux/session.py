"""pytest integration of the mock flux: the ``--xlib-backend=mock-flux`` session instance and the ``mock_flux``
fixture's body.

* :func:`backend_session`: one instance per pytest process (each xdist worker has its own) in a temporary
  directory, activated on ``os.environ`` (PATH, PYTHONPATH, FLUX_URI) and ``sys.path``, so every
  ``FluxJobExecutor``, ``import flux`` and ``flux`` command of the session runs inside it; stopped and removed at
  the end.  Shape: 1 node of ``max(4, cores)`` cores, or ``XLIB_MOCK_FLUX_NODES`` / ``XLIB_MOCK_FLUX_CORES`` /
  ``XLIB_MOCK_FLUX_GPUS``.
* :func:`fresh_instance`: a fresh instance for one test, shaped by the ``mock_flux(...)`` marker, activated
  during the test (it wins over the session instance), stopped at teardown.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_executorlib.mocks.flux.instance import MockFlux

session_instance_key = pytest.StashKey[MockFlux]()


def _int_env(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise pytest.UsageError(f"{name}={text!r}: expected an integer") from None


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


@contextlib.contextmanager
def backend_session(config: pytest.Config) -> Iterator[None]:
    """A mock flux instance for the whole session, active until the session ends."""
    root = Path(tempfile.mkdtemp(prefix="xlib-mock-flux-"))
    try:
        try:
            instance = MockFlux(root / "instance", nodes=_int_env("XLIB_MOCK_FLUX_NODES", 1),
                                cores_per_node=_int_env("XLIB_MOCK_FLUX_CORES", max(4, _cores())),
                                gpus_per_node=_int_env("XLIB_MOCK_FLUX_GPUS", 0))
        except ValueError as exc:
            raise pytest.UsageError(f"--xlib-backend=mock-flux: {exc}") from None
        with instance:
            instance.activate()
            config.stash[session_instance_key] = instance
            yield
    finally:
        shutil.rmtree(root, ignore_errors=True)


def fresh_instance(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockFlux]:
    """The ``mock_flux`` fixture's body (the fixture itself is in :mod:`pytest_executorlib.fixtures`)."""
    marker = request.node.get_closest_marker("mock_flux")
    if marker is not None and marker.args:
        raise pytest.UsageError(f"{request.node.nodeid}: mock_flux(...) takes keyword arguments only")
    kwargs = dict(marker.kwargs) if marker is not None else {}
    root = tmp_path_factory.mktemp("mock-flux", numbered=True)
    try:
        instance = MockFlux(root / "instance", **kwargs)
    except (TypeError, ValueError) as exc:
        raise pytest.UsageError(f"{request.node.nodeid}: mock_flux marker: {exc}") from None
    with instance:
        instance.activate()
        yield instance
