"""Fixtures for the mock flux's own tests."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Enable pytester (for the plugin integration tests); see tests/plugin/conftest.py for why not pytest_plugins."""
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")
