"""The PMI-1 server of the mock ``srun``: shared with the mock flux, it lives in :mod:`pytest_executorlib.mocks.pmi`."""

from pytest_executorlib.mocks.pmi import PMIServer

__all__ = ["PMIServer"]
