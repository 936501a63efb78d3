"""pytest plugin for pytest-executorlib (see docs/plugin.md).

The public API (fixtures, markers, options, :data:`API_VERSION`) is listed in :mod:`pytest_executorlib.api`.
The plugin itself is :mod:`pytest_executorlib.plugin`, loaded through the ``pytest11`` entry point.
"""

from pytest_executorlib.api import API_VERSION as API_VERSION
from pytest_executorlib.fixtures import ExecutorFactory as ExecutorFactory

__all__ = ["API_VERSION", "ExecutorFactory"]
