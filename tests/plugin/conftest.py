"""Fixtures for the plugin's own tests: real pytest runs (``pytester``) of small test files.

The inner runs use the reference implementation (``executor``) unless ``XLIB_PLUGIN_TESTS_IMPL=executorlib``
is set, which runs the same tests against executorlib's own executors.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Enable pytester for these tests.

    Not ``pytest_plugins = ["pytester"]``: pytest refuses that in a conftest below the rootdir when the whole
    suite is collected (``pytest`` from the repository root), whereas this hook also runs for a conftest
    loaded during collection.
    """
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")


@pytest.fixture(autouse=True)
def _clean_xlib_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner pytest runs must not see the outer run's XLIB_* settings."""
    for name in list(os.environ):
        if name.startswith("XLIB_") and name != "XLIB_PLUGIN_TESTS_IMPL":
            monkeypatch.delenv(name)


@pytest.fixture
def xlib_impl() -> str:
    """The --xlib-impl the inner runs use."""
    return os.environ.get("XLIB_PLUGIN_TESTS_IMPL", "reference")


@pytest.fixture
def run(pytester: pytest.Pytester, xlib_impl: str) -> Callable[..., pytest.RunResult]:
    """Run pytest in a subprocess in ``pytester.path`` with the selected implementation."""

    def _run(*args: str, impl: bool = True, timeout: float = 60) -> pytest.RunResult:
        extra = [f"--xlib-impl={xlib_impl}"] if impl and not any(a.startswith("--xlib-impl") for a in args) else []
        # The hypothesis plugin costs ~0.6 s per start-up and is not needed by the inner runs.
        quiet = ["-p", "no:cacheprovider", "-p", "no:hypothesispytest"]
        return pytester.runpytest_subprocess(*quiet, *extra, *args, timeout=timeout)

    return _run
