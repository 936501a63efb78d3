"""The public, versioned API of the pytest plugin, listed in one place.

Downstream test suites may rely on exactly what is listed here (fixture names, scopes and types; marker
signatures; option names).  Anything else in ``pytest_executorlib`` is internal.  A change to a listed item
that can break a downstream suite bumps the major part of :data:`API_VERSION`; an addition bumps the minor part.
The documentation site renders its fixture, marker and option tables from this module
(``docs/hooks/api_tables.py``), so a change here is a change of the documentation too.
"""

from __future__ import annotations

from typing import Final

from pytest_executorlib.backends import BACKENDS, IMPLEMENTATIONS
from pytest_executorlib.fixtures import ExecutorFactory
from pytest_executorlib.markers import MARKERS
from pytest_executorlib.options import SETTINGS

API_VERSION: Final = "1.1"

#: fixture name -> (scope, type, what the test gets)
FIXTURES: Final[dict[str, tuple[str, str, str]]] = {
    "executor": (
        "function",
        "concurrent.futures.Executor",
        "an executor of the selected backend caching into xlib_cache_dir (if h5py is installed), shut down at "
        "teardown; "
        "a test leaving unfinished futures errors at teardown naming them; after a failed or interrupted "
        "test its running calls are stopped, not waited for",
    ),
    "executor_factory": (
        "function",
        "ExecutorFactory",
        "callable(**kwargs) building executors of the selected backend (cache_directory defaults to "
        "xlib_cache_dir if h5py is installed); all shut down at teardown (running calls stopped after a failed "
        "test)",
    ),
    "xlib_backend": ("session", "str", "name of the selected backend, e.g. 'local'"),
    "xlib_cache_dir": ("function", "pathlib.Path", "a fresh cache directory, removed after the test"),
}

#: marker name -> registration text (signature: description)
PUBLIC_MARKERS: Final = MARKERS

#: command line option -> (environment variable, ini key, default)
OPTIONS: Final[dict[str, tuple[str, str, str | bool]]] = {s.flag: (s.env, s.ini, s.default) for s in SETTINGS}

#: valid --xlib-backend and --xlib-impl values
BACKEND_NAMES: Final = tuple(BACKENDS)
IMPLEMENTATION_NAMES: Final = tuple(IMPLEMENTATIONS)

__all__ = [
    "API_VERSION",
    "BACKEND_NAMES",
    "FIXTURES",
    "IMPLEMENTATION_NAMES",
    "OPTIONS",
    "PUBLIC_MARKERS",
    "ExecutorFactory",
]
