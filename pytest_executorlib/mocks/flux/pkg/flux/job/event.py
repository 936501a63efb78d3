"""``flux.job.event``: eventlog entries, ``JobException``, ``event_watch`` and ``event_wait``."""

from __future__ import annotations

import errno
import json
from collections.abc import Iterator
from typing import Any

MAIN_EVENTS = frozenset({"submit", "depend", "priority", "flux-restart", "urgency", "alloc", "free", "start",
                         "release", "finish", "clean", "debug", "exception"})


class EventLogEvent(dict):  # type: ignore[type-arg]
    """One eventlog entry: ``.name``, ``.timestamp``, ``.context`` (a dict), ``.context_string``."""

    def __init__(self, event: Any) -> None:
        if isinstance(event, (str, bytes)):
            event = json.loads(event)
        super().__init__(event)
        self.setdefault("context", {})

    @property
    def name(self) -> str:
        return str(self["name"])

    @property
    def timestamp(self) -> float:
        return float(self["timestamp"])

    @property
    def context(self) -> dict[str, Any]:
        return self["context"]  # type: ignore[no-any-return]

    @property
    def context_string(self) -> str:
        return json.dumps(self.context, separators=(",", ":")) if self.context else ""

    def __str__(self) -> str:
        return f"{self.timestamp:.5f}: {self.name} {self.context_string}".rstrip()


class JobException(Exception):
    """A fatal job exception: ``str()`` is ``job.exception: type=<type>: <note>``."""

    def __init__(self, event: EventLogEvent) -> None:
        self.timestamp = event.timestamp
        self.type = event.context.get("type")
        self.note = event.context.get("note", "no explanation given")
        self.severity = event.context.get("severity")
        super().__init__(self)

    def __str__(self) -> str:
        return f"job.exception: type={self.type}: {self.note}"


def _instance(flux_handle: Any) -> Any:
    return flux_handle.instance


def event_watch(flux_handle: Any, jobid: int, eventlog: str = "eventlog") -> Iterator[EventLogEvent]:
    """Yield the job's events as they happen, ending after ``clean``; FileNotFoundError for an unknown job."""
    inst = _instance(flux_handle)
    if inst.job(jobid) is None:
        raise FileNotFoundError(errno.ENOENT, "No such file or directory")
    seq = 0
    while True:
        batch = inst.await_(lambda: inst.events(jobid, seq) or None, None, "job events")
        for s, name, ts, ctx in batch:
            seq = s
            yield EventLogEvent({"name": name, "timestamp": ts, "context": ctx})
            if name == "clean":
                return


def event_wait(flux_handle: Any, jobid: int, name: str, eventlog: str = "eventlog",
               raiseJobException: bool = True) -> EventLogEvent:  # noqa: N803 - flux's name
    """The first ``name`` event; JobException on a fatal exception first; OSError(ENODATA) if the log ends."""
    for event in event_watch(flux_handle, jobid, eventlog):
        if event.name == name:
            return event
        if raiseJobException and event.name == "exception" and event.context.get("severity") == 0:
            raise JobException(event)
    raise OSError(errno.ENODATA, "No data available")
