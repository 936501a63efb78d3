"""What the plugin writes to the terminal: the header lines, the ``xlib summary`` section, the strict-cache error.

Quiet until used: installed in a project that never uses it, the plugin prints nothing.  The header appears
when a setting was given (command line, environment or ini: the header names the source of each value) or
with ``-v``; the summary then too, or when a test used the plugin's fixtures or markers or a cache directory
was removed (``Tally.did_something``).  Each summary line says what it counts.

With ``--xlib-strict-cache`` a cache directory made outside the fixtures fails the run; besides the exit
status, :func:`strict_cache_error` adds an error report to the terminal reporter's ``stats`` (what pytest's
final line counts; plugins such as pytest-rerunfailures add their own keys there too), so the final line says
``9 passed, 1 error`` in red instead of a green ``9 passed`` with exit status 1.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_executorlib import backends
from pytest_executorlib.state import SessionState, get_state

#: Most paths listed per category in the terminal summary.
MAX_LISTED = 10


def _yes_no(value: str | bool) -> str:
    return ("yes" if value else "no") if isinstance(value, bool) else (value or "off")


def speaks_from_start(config: pytest.Config) -> bool:
    """Header wanted: a setting was given (command line, environment, ini) or the run is verbose."""
    return get_state(config).settings.any_explicit() or config.get_verbosity() > 0


def header_lines(config: pytest.Config) -> list[str]:
    """The two header lines (each setting with the source that won), or none while the plugin is quiet."""
    if not speaks_from_start(config):
        return []
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


def strict_cache_error(config: pytest.Config, state: SessionState) -> None:
    """Count the strict-cache failure as an error in pytest's final line, listed under ERRORS and in the short
    test summary like a test's error."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    strict = state.settings.strict_cache
    count = len(state.tally.unmanaged)
    message = (
        f"{strict.given}: {count} cache director{'y was' if count == 1 else 'ies were'} created outside the "
        "xlib fixtures (listed in the xlib summary)"
    )
    report = pytest.TestReport(
        nodeid=f"xlib ({strict.given})",
        location=("xlib", None, f"the test session ({strict.given})"),
        keywords={},
        outcome="failed",
        longrepr=message + "\nCreate cache directories with the xlib fixtures or below tmp_path (docs/plugin.md).",
        when="teardown",
    )
    reporter.stats.setdefault("error", []).append(report)


def _count(value: int | None) -> str:
    return "n/a" if value is None else str(value)


def summary(terminalreporter: Any, config: pytest.Config, state: SessionState) -> None:
    """The ``xlib summary`` section, unless the plugin is quiet (see the module docstring)."""
    t = state.tally
    if not (speaks_from_start(config) or t.did_something()):
        return
    s = state.settings
    tr = terminalreporter
    tr.write_sep("=", "xlib summary")
    impl = str(s.impl.value)
    tr.write_line(
        f"backend: {state.backend.name} ({s.backend.source}), implementation: {impl} ({s.impl.source}), "
        f"{backends.IMPLEMENTATIONS[impl]} {backends.implementation_version(impl)}"
    )
    tr.write_line(
        f"executor calls: {_count(t.calls_run)} run in worker processes, "
        f"{_count(t.cache_hits)} answered from the cache without running"
    )
    tr.write_line(
        f"worker processes started: {_count(t.workers_started)} "
        "(one per call, or per block-allocation worker, plus spares started ahead of calls)"
    )
    tr.write_line(f"cache directories removed after their test: {len(t.removed)}")
    if t.kept:
        tr.write_line(f"cache directories kept ({s.keep_cache.given}): {len(t.kept)}")
        for path in t.kept[:MAX_LISTED]:
            tr.write_line(f"  {path}")
    tr.write_line(f"worker coverage data files written: {_count(t.coverage_files)} (one per measured worker process)")
    if t.stopped:
        tr.write_line(f"running calls stopped after a failed or interrupted test: {len(t.stopped)}", yellow=True)
        for where, line in t.stopped[:MAX_LISTED]:
            tr.write_line(f"  {where}: {line}")
    if t.calls_run is None:
        tr.write_line(f"(n/a: the {impl} implementation does not report these counters)")
    if t.unmanaged:
        strict = bool(s.strict_cache.value)
        tr.write_line(
            f"cache directories created outside the xlib fixtures: {len(t.unmanaged)}"
            + (f" -- failing the run ({s.strict_cache.given})" if strict else ""),
            red=strict,
            yellow=not strict,
        )
        for where, path in t.unmanaged[:MAX_LISTED]:
            tr.write_line(f"  {where}: {path}")
