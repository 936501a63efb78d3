"""pytest plugin entry point (``pytest11``: ``executorlib``): options, header, per-test cleanup, summary.

Life of a session::

    pytest_addoption      options.add_options: the xlib option group and ini keys
    pytest_configure      resolve settings (CLI > env > ini), check backend + implementation (usage errors),
                          register markers, enter the backend's session set-up, set XLIB_WORKER_COVERAGE
    pytest_report_header  each setting with the source that won
    collection            markers.skip_reason -> skip marks
    per test              cleanup.begin_test ... fixtures register their cache dirs ... cleanup.finish
    pytest_runtestloop    (innermost wrapper) close executors left open, before pytest-cov combines
    pytest_sessionfinish  sweep cache dirs found outside tests; xdist worker -> workeroutput;
                          --xlib-strict-cache -> exit status 1
    pytest_terminal_summary  the "xlib" section
    pytest_unconfigure    leave the backend's session, restore the environment

Under pytest-xdist every worker runs all of this for its own tests; the controller only adds up the
workers' tallies (``pytest_testnodedown``) and removes what they deferred to it.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Generator
from typing import Any

import pytest

from pytest_executorlib import backends, cleanup, graphs, markers, options
from pytest_executorlib.fixtures import (  # noqa: F401 - fixtures are found by name on this module
    call_failed_key,
    executor,
    executor_factory,
    mock_flux,
    mock_slurm,
    xlib_backend,
    xlib_cache_dir,
)
from pytest_executorlib.state import CacheWindow, SessionState, Tally, cache_window_key, get_state, session_key

_backend_session_key = pytest.StashKey[contextlib.ExitStack]()
_WORKEROUTPUT_KEY = "xlib_tally"
_COVERAGE_ENV = "XLIB_WORKER_COVERAGE"
#: Most paths listed per category in the terminal summary.
_MAX_LISTED = 10


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
    backend = backends.get_backend(str(settings.backend.value))
    backends.check_available(backend)
    impl = str(settings.impl.value)
    backends.check_implementation(impl)
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
    stack.enter_context(backends.backend_session(backend, config))


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


def _yes_no(value: str | bool) -> str:
    return ("yes" if value else "no") if isinstance(value, bool) else (value or "off")


def pytest_report_header(config: pytest.Config) -> list[str]:
    s = get_state(config).settings
    impl = str(s.impl.value)
    package = backends.IMPLEMENTATIONS[impl]
    version = backends.implementation_version(impl)
    return [
        f"xlib: backend={s.backend.value} ({s.backend.source}), impl={impl} ({s.impl.source}) [{package} {version}]",
        "xlib: "
        + ", ".join(
            f"{label}={_yes_no(r.value)} ({r.source})"
            for label, r in (
                ("keep-cache", s.keep_cache),
                ("strict-cache", s.strict_cache),
                ("worker-coverage", s.worker_coverage),
                ("mpi-oversubscribe", s.mpi_oversubscribe),
                ("graph", s.graph),
            )
        ),
    ]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = get_state(config)
    oversubscribe = bool(state.settings.mpi_oversubscribe.value)
    for item in items:
        reason = markers.skip_reason(item, state.backend, oversubscribe)
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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
    state = get_state(item.config)
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
    """Innermost wrapper: close executors still open before pytest-cov (an outer wrapper) combines data."""
    try:
        return (yield)
    finally:
        state = get_state(session.config)
        for still_open in list(state.open_executors):
            with contextlib.suppress(Exception):
                still_open.shutdown(wait=True, cancel_futures=True)
            state.open_executors.discard(still_open)
        # Executors the tests built themselves and left open: their workers must have saved too.
        api = sys.modules.get("executor.api") or (sys.modules.get("executor") and _import_api())
        if api is not None:
            with contextlib.suppress(Exception):
                api.shutdown_all(cancel_futures=True)


def _import_api() -> Any:
    import executor.api

    return executor.api


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
    elif state.settings.strict_cache.value and state.tally.unmanaged and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _count(value: int | None) -> str:
    return "n/a" if value is None else str(value)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(session_key, None)
    if state is None or state.is_xdist_worker:
        return
    t: Tally = state.tally
    s = state.settings
    tr = terminalreporter
    tr.write_sep("=", "xlib summary")
    impl = str(s.impl.value)
    tr.write_line(
        f"backend: {state.backend.name}, implementation: {impl} "
        f"({backends.IMPLEMENTATIONS[impl]} {backends.implementation_version(impl)})"
    )
    tr.write_line(f"calls run: {_count(t.calls_run)}, cache hits: {_count(t.cache_hits)}")
    tr.write_line(f"workers started: {_count(t.workers_started)}")
    tr.write_line(f"cache directories removed: {len(t.removed)}")
    if t.kept:
        tr.write_line(f"cache directories kept (--xlib-keep-cache): {len(t.kept)}")
        for path in t.kept[:_MAX_LISTED]:
            tr.write_line(f"  {path}")
    tr.write_line(f"worker coverage files written: {_count(t.coverage_files)}")
    if t.calls_run is None:
        tr.write_line(f"(n/a: the {impl} implementation does not report these counters)")
    if t.unmanaged:
        strict = bool(s.strict_cache.value)
        tr.write_line(
            f"cache directories created outside the xlib fixtures: {len(t.unmanaged)}"
            + (" -- failing the run (--xlib-strict-cache)" if strict else ""),
            red=strict,
            yellow=not strict,
        )
        for where, path in t.unmanaged[:_MAX_LISTED]:
            tr.write_line(f"  {where}: {path}")
