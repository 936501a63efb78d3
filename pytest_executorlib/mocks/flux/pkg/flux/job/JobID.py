"""``flux.job.JobID`` (pure Python: see :mod:`pytest_executorlib.mocks.flux.jobid`)."""

from pytest_executorlib.mocks.flux.jobid import JobID

__all__ = ["JobID"]
