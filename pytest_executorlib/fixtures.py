"""The public fixtures: ``executor``, ``executor_factory``, ``xlib_backend``, ``xlib_cache_dir``, ``mock_slurm``,
``mock_flux``.

Their names, scopes and types are a versioned API (``pytest_executorlib.api``); change them only with a
new ``API_VERSION``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import reprlib
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

from pytest_executorlib.backends import executor_class
from pytest_executorlib import graphs
from pytest_executorlib.cleanup import begin_test
from pytest_executorlib.mocks.flux.instance import MockFlux
from pytest_executorlib.mocks.flux.session import fresh_instance
from pytest_executorlib.mocks.slurm.cluster import MockSlurm
from pytest_executorlib.mocks.slurm.session import fresh_cluster
from pytest_executorlib.state import CacheWindow, cache_window_key, get_state
from pytest_executorlib.stopping import Snapshot, stop_now

#: Set by the plugin when the test's call phase failed: its executors' running calls are stopped, not waited
#: for, and unfinished futures are not reported again.
call_failed_key = pytest.StashKey[bool]()

#: Longest argument list shown when naming an unfinished future.
_MAX_ARGS_REPR = 60
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 40
#: Forget finished futures once this many are remembered (a test submitting thousands of calls).
_PRUNE_AT = 1000


def cache_available() -> bool:
    """True when h5py (the ``cache`` extra) is installed: the fixtures' default cache needs it.

    Without it the fixtures build executors without a cache, so ``pip install pytest-executorlib`` alone gives
    working ``executor`` fixtures; a test that asks for a cache explicitly still gets the error naming the extra.
    """
    return importlib.util.find_spec("h5py") is not None


class ExecutorFactory(Protocol):
    """Type of the ``executor_factory`` fixture."""

    def __call__(self, **kwargs: Any) -> Executor:
        """Build an executor of the selected backend; ``kwargs`` go to its constructor."""
        ...


@dataclass(frozen=True)
class _Submitted:
    future: Future[Any]
    description: str


def _safe_repr(value: Any) -> str:
    try:
        return _REPR.repr(value)
    except Exception:  # a broken __repr__ must not break submit()
        return f"<{type(value).__name__}>"


def _describe(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    parts = [_safe_repr(a) for a in args] + [f"{k}={_safe_repr(v)}" for k, v in kwargs.items()]
    text = ", ".join(parts)
    if len(text) > _MAX_ARGS_REPR:
        text = text[: _MAX_ARGS_REPR - 3] + "..."
    return f"{getattr(fn, '__qualname__', _safe_repr(fn))}({text})"


def _test_caches(request: pytest.FixtureRequest) -> CacheWindow:
    caches = request.node.stash.get(cache_window_key, None)
    if caches is None:  # the plugin's per-test hook always sets it; this is a fallback
        caches = request.node.stash[cache_window_key] = begin_test()
    window: CacheWindow = caches
    return window


class _Executors:
    """The executors one fixture built: registers their cache directories, shuts them down at teardown."""

    def __init__(self, request: pytest.FixtureRequest, cache_dir: Path, track_futures: bool) -> None:
        self._cache_dir = cache_dir
        self._state = get_state(request.config)
        self._caches = _test_caches(request)
        self._built: list[Executor] = []
        self._snapshots: dict[int, Snapshot] = {}  # id(executor) -> processes before it (other implementations)
        self.submitted: list[_Submitted] | None = [] if track_futures else None
        self._log = graphs.log_for(request.node, self._state.graph_dir)

    def _register(self, directory: Any) -> None:
        if directory:
            self._caches.managed.add(os.path.abspath(os.fspath(directory)))

    def make(self, **kwargs: Any) -> Executor:
        __tracebackhide__ = True
        state = self._state
        cls = executor_class(state.backend, state.impl)
        if "cache_directory" not in kwargs:
            kwargs["cache_directory"] = str(self._cache_dir) if cache_available() else None
        self._register(kwargs["cache_directory"])
        self._register((kwargs.get("resource_dict") or {}).get("cache_directory"))
        snapshot = None if state.impl == "reference" else Snapshot()
        with graphs.building(self._log, state.impl):
            built: Executor = cls(**kwargs)
        if snapshot is not None:
            self._snapshots[id(built)] = snapshot
        self._instrument(built)
        self._built.append(built)
        state.open_executors.add(built)
        return built

    def _instrument(self, built: Executor) -> None:
        """Wrap ``submit`` on the instance: register resource_dict cache directories, remember futures."""
        original = built.submit
        register, submitted, record = self._register, self.submitted, graphs.wrapper_records(self._log, self._state.impl)

        def submit(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
            resource_dict = kwargs.get("resource_dict")
            if isinstance(resource_dict, dict):
                register(resource_dict.get("cache_directory"))
            future = original(fn, *args, **kwargs)
            if record is not None:
                record(future, fn, args, {k: v for k, v in kwargs.items() if k != "resource_dict"})
            if submitted is not None:
                if len(submitted) >= _PRUNE_AT:  # do not keep the results of many finished calls alive
                    submitted[:] = [s for s in submitted if not s.future.done()]
                call_kwargs = {k: v for k, v in kwargs.items() if k != "resource_dict"}
                submitted.append(_Submitted(future, _describe(fn, args, call_kwargs)))
            return future

        submit.__doc__ = original.__doc__
        # A class with __slots__ refuses the attribute: no tracking then, everything else still works.
        with contextlib.suppress(AttributeError):
            built.submit = submit  # type: ignore[method-assign]

    def unfinished(self) -> list[str]:
        return [
            f"{s.description} [{'running' if s.future.running() else 'pending'}]"
            for s in self.submitted or []
            if not s.future.done()
        ]

    def close(self, request: pytest.FixtureRequest) -> list[str]:
        """Shut every executor down (pending futures cancelled); return the errors, if any.

        After a failed test, running calls are stopped instead of waited for (``stopping``); what was stopped
        goes to the terminal summary.
        """
        failed = request.node.stash.get(call_failed_key, False) or self._state.interrupted
        errors = []
        for built in reversed(self._built):
            try:
                if failed:
                    what = "was interrupted" if self._state.interrupted else "failed"
                    reason = f"the test {request.node.nodeid} {what}"
                    stopped = stop_now(built, reason, self._snapshots.get(id(built)))
                    self._state.tally.stopped.extend((request.node.nodeid, line) for line in stopped)
                else:
                    built.shutdown(wait=True, cancel_futures=True)
            except Exception as exc:
                errors.append(f"{type(built).__name__}.shutdown() raised {type(exc).__name__}: {exc}")
            self._state.open_executors.discard(built)
        self._built.clear()
        self._snapshots.clear()
        return errors


@pytest.fixture(scope="session")
def xlib_backend(request: pytest.FixtureRequest) -> str:
    """Name of the selected backend (``--xlib-backend``), e.g. ``"local"``."""
    return get_state(request.config).backend.name


@pytest.fixture
def xlib_cache_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh, empty cache directory for this test, removed after the test (unless ``--xlib-keep-cache``)."""
    name = re.sub(r"[\W]", "_", request.node.name)[:30]
    path = tmp_path_factory.mktemp(f"xlib-cache-{name}", numbered=True)
    caches = _test_caches(request)
    caches.managed.add(str(path))
    caches.created.add(str(path))
    return path


@pytest.fixture
def executor_factory(request: pytest.FixtureRequest, xlib_cache_dir: Path) -> Iterator[ExecutorFactory]:
    """Build executors of the selected backend: ``executor_factory(max_workers=2, block_allocation=True)``.

    ``cache_directory`` defaults to ``xlib_cache_dir`` when h5py is installed, else to None (pass
    ``cache_directory=None`` for no cache).  All executors built are shut down at teardown, with pending
    futures cancelled; after a failed test their running calls are stopped (see ``stopping``).
    """
    executors = _Executors(request, xlib_cache_dir, track_futures=False)
    yield executors.make
    errors = executors.close(request)
    if errors:
        pytest.fail("xlib: executor_factory teardown:\n  " + "\n  ".join(errors), pytrace=False)


@pytest.fixture
def executor(request: pytest.FixtureRequest, xlib_cache_dir: Path) -> Iterator[Executor]:
    """An executor of the selected backend, caching into ``xlib_cache_dir`` (when h5py, the ``cache`` extra, is
    installed), shut down at teardown.

    A test that returns while futures of this executor are still pending or running fails (at teardown)
    with a message naming those calls.  After a failed test its running calls are stopped, not waited for.
    """
    executors = _Executors(request, xlib_cache_dir, track_futures=True)
    built = executors.make()
    yield built
    unfinished = executors.unfinished()
    errors = executors.close(request)
    if unfinished and not request.node.stash.get(call_failed_key, False):
        errors.insert(
            0,
            f"the test left {len(unfinished)} unfinished future(s) of the `executor` fixture "
            "(wait for them with .result() or cancel them):\n    " + "\n    ".join(unfinished),
        )
    if errors:
        pytest.fail("xlib: " + "\n  ".join(errors), pytrace=False)


@pytest.fixture
def mock_slurm(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockSlurm]:
    """A fresh mock SLURM cluster for this test, first on ``PATH`` (``os.environ``) during the test.

    Shape it with ``@pytest.mark.mock_slurm(nodes=2, cpus_per_node=8, gpus_per_node=1)``.  The value is the
    :class:`~pytest_executorlib.mocks.slurm.MockSlurm` with its control API (``jobs()``, ``calls()``, ``wait()``,
    ``hold_new_jobs()``, ``release()``, ``fault()``, ``fault_next()``); the cluster and every job of it are
    stopped at teardown.
    """
    yield from fresh_cluster(request, tmp_path_factory)


@pytest.fixture
def mock_flux(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockFlux]:
    """A fresh mock flux instance for this test, active during the test (``PATH``, ``PYTHONPATH``, ``FLUX_URI``
    in ``os.environ``; ``import flux`` finds the mock package).

    Shape it with ``@pytest.mark.mock_flux(nodes=1, cores_per_node=4, gpus_per_node=0)``.  The value is the
    :class:`~pytest_executorlib.mocks.flux.MockFlux` with the same control API as ``mock_slurm`` (``jobs()``,
    ``job()``, ``calls()``, ``wait()``, ``hold_new_jobs()``, ``hold()``, ``release()``, ``fault()``,
    ``fault_next()``); every job is cancelled and the broker stopped at teardown.
    """
    yield from fresh_instance(request, tmp_path_factory)
