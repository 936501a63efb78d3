"""``flux.job`` of the mock flux package: the names flux-core 0.88 re-exports here."""

from flux.job.JobID import JobID
from flux.job.Jobspec import Jobspec, JobspecV1
from flux.job.event import EventLogEvent, JobException, MAIN_EVENTS, event_wait, event_watch
from flux.job import event  # noqa: F401 - flux.job.event is reachable as an attribute
from flux.job.calls import (FLUX_JOBID_ANY, JobInfo, JobWaitResult, cancel, cancel_async, job_raise, kill,
                            kill_async, result, submit, submit_async, submit_get_id, wait)
from flux.job.executor import FluxExecutor, FluxExecutorFuture

try:  # as flux/job/info.py does: importing flux.job makes flux.resource reachable as an attribute
    from flux.resource import SchedResourceList  # noqa: F401
except ImportError:  # pragma: no cover
    pass

__all__ = [
    "FLUX_JOBID_ANY", "EventLogEvent", "FluxExecutor", "FluxExecutorFuture", "JobException", "JobID", "JobInfo",
    "JobWaitResult", "Jobspec", "JobspecV1", "MAIN_EVENTS", "cancel", "cancel_async", "event_wait", "event_watch",
    "job_raise", "kill", "kill_async", "result", "submit", "submit_async", "submit_get_id", "wait",
]
