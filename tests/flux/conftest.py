"""The ``flux_target`` fixture (defined in ``flux_target.py``: a uniquely named module the tests import from)."""

from __future__ import annotations

from flux_target import flux_target  # noqa: F401 - the fixture, found by name
