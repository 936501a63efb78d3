"""pytest plugin entry point (``pytest11``: ``executorlib``): options, header, per-test cleanup, summary.

Life of a session::

    pytest_addoption      options.add_options: the xlib option group and ini keys
    pytest_configure      resolve settings (CLI > env > ini), check backend + implementation (usage errors),
                          register markers, enter the backend's session set-up, set XLIB_WORKER_COVERAGE
    pytest_report_header  reporting.header_lines: each setting with the source that won (if one was given, or -v)
    collection            markers.skip_reason -> skip marks
    per test              note whether it uses the plugin's fixtures or markers;
                          cleanup.begin_test ... fixtures register their cache dirs ... cleanup.finish
    pytest_runtestloop    (innermost wrapper) close executors left open, before pytest-cov combines
    pytest_sessionfinish  sweep cache dirs found outside tests; xdist worker -> workeroutput;
                          --xlib-strict-cache -> exit status 1 and reporting.strict_cache_error
    pytest_terminal_summary  reporting.summary: the "xlib summary" section
    pytest_unconfigure    leave the backend's session, restore the environment

Quiet until used (``reporting``): installed in a project that never uses it, the plugin prints nothing.

Under pytest-xdist every worker runs all of this for its own tests; the controller only adds up the
workers' tallies (``pytest_testnodedown``) and removes what they deferred to it.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
from collections.abc import Generator
from typing import Any

import pytest

from pytest_executorlib import api, backends, cleanup, graphs, markers, options, reporting, stopping
from pytest_executorlib.fixtures import (  # noqa: F401 - fixtures are found by name on this module
    call_failed_key,
    executor,
    executor_factory,
    mock_flux,
    mock_slurm,
    xlib_backend,
    xlib_cache_dir,
)
from pytest_executorlib.state import CacheWindow, SessionState, cache_window_key, get_state, session_key

_backend_session_key = pytest.StashKey[contextlib.ExitStack]()
_WORKEROUTPUT_KEY = "xlib_tally"
_COVERAGE_ENV = "XLIB_WORKER_COVERAGE"


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def _telemetry() -> Any | None:
    """``executor.telemetry`` when the reference implementation is used, else None."""
    try:
        if importlib.util.find_spec("executor.telemetry") is None:
            return None
        return importlib.import_module("executor.telemetry")
    except ImportError:
        return None


def _is_xdist_controller(config: pytest.Config) -> bool:
    if hasattr(config, "workerinput"):
        return False
    try:
        return bool(config.getoption("dist") != "no")
    except ValueError:  # pytest-xdist not installed
        return False


def pytest_configure(config: pytest.Config) -> None:
    markers.register(config)
    settings = options.resolve(config)
    backend = backends.get_backend(str(settings.backend.value), settings.backend.given)
    backends.check_available(backend, settings.backend.given)
    impl = str(settings.impl.value)
    backends.check_implementation(impl, settings.impl.given)
    telemetry = _telemetry() if impl == "reference" else None
    cwd = os.getcwd()
    state = SessionState(
        settings=settings,
        backend=backend,
        impl=impl,
        is_xdist_worker=hasattr(config, "workerinput"),
        is_xdist_controller=_is_xdist_controller(config),
        session_caches=cleanup.begin_test(cwd),
        telemetry_start=telemetry.snapshot() if telemetry is not None else None,
        graph_dir=graphs.directory(config, settings.graph.value),
    )
    if not settings.worker_coverage.value:
        state.saved_env[_COVERAGE_ENV] = os.environ.get(_COVERAGE_ENV)
        os.environ[_COVERAGE_ENV] = "0"
    config.stash[session_key] = state
    stack = contextlib.ExitStack()
    config.stash[_backend_session_key] = stack
    stack.enter_context(backends.backend_session(backend, config, settings.backend.given))


def pytest_unconfigure(config: pytest.Config) -> None:
    stack = config.stash.get(_backend_session_key, None)
    if stack is not None:
        stack.close()
    state = config.stash.get(session_key, None)
    if state is not None:
        for name, value in state.saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def pytest_report_header(config: pytest.Config) -> list[str]:
    return reporting.header_lines(config)


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> Generator[None, None, None]:
    """A wrapper, so it runs after every plugin's own implementation (pytest-mpi adds its skips there)."""
    yield
    state = get_state(config)
    oversubscribe = bool(state.settings.mpi_oversubscribe.value)
    pytest_mpi = markers.pytest_mpi_loaded(config)
    for item in items:
        if pytest_mpi:
            markers.undo_pytest_mpi_skip(item)
        reason = markers.skip_reason(item, state.backend, oversubscribe, pytest_mpi)
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if call.when == "call" and (report.failed or hasattr(report, "wasxfail")):
        item.stash[call_failed_key] = True
    return report


def _candidates(state: SessionState, caches: CacheWindow, scan_cwd: bool) -> dict[str, bool | None]:
    """Every directory that may be a cache directory of this test: path -> known to be new (None: unknown)."""
    found: dict[str, bool | None] = {p: (True if p in caches.created else None) for p in caches.managed}
    telemetry = _telemetry() if state.impl == "reference" else None
    if telemetry is not None:
        used = telemetry.cache_directories()
        telemetry.forget_cache_directories(used)
        for path in used:
            found.setdefault(path, None)
    if scan_cwd:
        new = cleanup.new_cache_dirs_in(
            caches.start_cwd, caches.start_entries, caches.default_cache_existed, caches.start_time
        )
        for path, created in new.items():
            if found.get(path) is None:
                found[path] = created
    return found


def _protected(config: pytest.Config, caches: CacheWindow, basetemp: str) -> list[str]:
    return [str(config.rootpath), caches.start_cwd, basetemp]


def _basetemp(config: pytest.Config) -> str:
    """pytest's base temp directory (created if needed), "" if unknown.

    pytest keeps its TempPathFactory in ``config._tmp_path_factory`` (no public accessor); called only when
    there is a candidate directory to classify, so runs without cache directories create nothing.
    """
    factory = getattr(config, "_tmp_path_factory", None)
    try:
        return str(factory.getbasetemp()) if factory is not None else ""
    except OSError:
        return ""


def _uses_plugin(item: pytest.Item) -> bool:
    """True if the test asks for one of the plugin's fixtures or carries one of its markers."""
    if not api.FIXTURES.keys().isdisjoint(getattr(item, "fixturenames", ())):
        return True
    return markers.uses_markers(item, markers.pytest_mpi_loaded(item.config))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
    state = get_state(item.config)
    if not state.tally.plugin_used and _uses_plugin(item):
        state.tally.plugin_used = True
    caches = item.stash[cache_window_key] = cleanup.begin_test()
    try:
        return (yield)
    finally:
        # Function-scoped fixtures (and the executors they built) are torn down by now.
        graphs.write(item, state.graph_dir)
        found = _candidates(state, caches, scan_cwd=not state.is_xdist_worker)
        if found:
            basetemp = _basetemp(item.config)
            cleanup.finish(
                state,
                caches,
                item.nodeid,
                found,
                basetemp=basetemp,
                protected=_protected(item.config, caches, basetemp),
            )


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, Any, Any]:
    """Innermost wrapper: close executors still open before pytest-cov (an outer wrapper) combines data.

    After a KeyboardInterrupt (or ``pytest.exit``) their running calls are stopped, not waited for.
    """
    state = get_state(session.config)
    try:
        return (yield)
    except BaseException:
        state.interrupted = True
        raise
    finally:
        stopping.close_open_executors(state)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: add a worker's tally."""
    output = getattr(node, "workeroutput", None) or {}
    tally = output.get(_WORKEROUTPUT_KEY)
    if tally is not None:
        get_state(node.config).tally.add(tally)


def _count_telemetry(state: SessionState) -> None:
    telemetry = _telemetry() if state.telemetry_start is not None else None
    if telemetry is None or state.telemetry_start is None:
        return
    now = telemetry.snapshot()
    for key in ("calls_run", "cache_hits", "workers_started", "coverage_files"):
        setattr(state.tally, key, now.get(key, 0) - state.telemetry_start.get(key, 0))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int | pytest.ExitCode) -> None:
    config = session.config
    state = config.stash.get(session_key, None)
    if state is None:
        return
    # Directories used outside any test (collection, session set-up) and, on the controller, the shared
    # directories the xdist workers left to it.
    caches = state.session_caches
    found = _candidates(state, caches, scan_cwd=not state.is_xdist_worker)
    deferred = set(state.tally.deferred)
    if state.is_xdist_controller:
        for path in deferred:
            found.setdefault(path, None)
    if found:
        basetemp = _basetemp(config)
        cleanup.finish(
            state,
            caches,
            "(xdist run: test unknown)" if state.is_xdist_controller else "(outside tests)",
            found,
            basetemp=basetemp,
            protected=_protected(config, caches, basetemp),
            already_reported=deferred,
        )
    if not state.is_xdist_controller:  # the controller runs no tests: it adds up the workers' counters
        _count_telemetry(state)
    if state.is_xdist_worker:
        config.workeroutput[_WORKEROUTPUT_KEY] = state.tally.to_dict()  # type: ignore[attr-defined]
    elif state.settings.strict_cache.value and state.tally.unmanaged:
        if session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporting.strict_cache_error(config, state)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(session_key, None)
    if state is not None and not state.is_xdist_worker:
        reporting.summary(terminalreporter, config, state)
