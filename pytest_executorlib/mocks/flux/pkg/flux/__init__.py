"""The mock ``flux`` package (pytest-executorlib): flux-core 0.88's Python API over a mock flux instance.

Put on ``PYTHONPATH`` by ``MockFlux.environ()`` / ``xlib mock-env flux``; ``import flux``, ``flux.Flux()``,
``flux.job`` and ``flux.resource`` then work as the real bindings do, inside the instance named by
``FLUX_URI``.  The implementation lives in :mod:`pytest_executorlib.mocks.flux`; see docs/flux.md.
"""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)

import os as _os
import sys as _sys

try:
    import pytest_executorlib.mocks.flux.client  # noqa: F401
except ImportError:  # running under a Python that does not have pytest_executorlib installed: use ours
    _sys.path.append(_os.path.dirname(_os.path.dirname(_os.path.dirname(_os.path.dirname(
        _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))))))))


def Flux(*args, **kwargs):  # noqa: N802 - flux's name
    """A handle on the instance of ``$FLUX_URI`` (``flux.core.handle.Flux``)."""
    from flux.core.handle import Flux as _Flux

    return _Flux(*args, **kwargs)
