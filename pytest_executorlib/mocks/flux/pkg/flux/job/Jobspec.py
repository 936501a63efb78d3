"""``flux.job.Jobspec`` / ``JobspecV1`` (implemented in :mod:`pytest_executorlib.mocks.flux.jobspec`)."""

from pytest_executorlib.mocks.flux.jobspec import Jobspec, JobspecV1, parse_fsd

__all__ = ["Jobspec", "JobspecV1", "parse_fsd"]
