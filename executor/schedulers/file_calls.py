"""The records and helpers of the file-queue scheduler (``files.py``): a call, its error, its files.

Layer: schedulers.
"""

from __future__ import annotations

import os
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from executor.cache import key as cache_key
from executor.cache import store
from executor.worker.cache_job import OutputRef

TAIL_LINES = 15
OUTPUT_FILES = ("time.out", "error.out", "slurm-{job}.out")  # pysqa's templates, SLURM's default


class QueueJobError(RuntimeError):
    """A call's batch job ended without writing its output file, or the queue refused or lost it."""


@dataclass(eq=False)
class FileCall:
    future: Future[Any]
    fn: Any
    args: list[Any]
    kwargs: dict[str, Any]
    resources: dict[str, Any]  # merged, without cache_key / cache_directory / error_log_file
    directory: str  # absolute cache directory
    cache_key: str | None = None
    error_log_file: str | None = None
    key: str = ""
    job: int | None = None
    adopted: bool = False
    submitting: bool = False  # sbatch running in the submission pool
    children: list[FileCall] = field(default_factory=list)
    waiters: list[FileCall] = field(default_factory=list)  # dependents waiting for this call's job id

    @property
    def stem(self) -> str:
        return os.path.join(self.directory, self.key)


@dataclass
class Ref:
    future: Future[Any]
    ref: OutputRef


NOT_FOR_PYSQA = {"cwd", "threads_per_core", "gpus_per_core", "openmpi_oversubscribe", "slurm_cmd_args", "cores", "priority"}


def nested_pending(args: list[Any], kwargs: dict[str, Any]) -> bool:
    from executor.tasks.dependencies import find_futures

    return any(not f.done() for f in find_futures((args, kwargs), []) if not isinstance(f, Ref))


def queue_id(path: str) -> int | None:
    try:
        content = store.read_file(path, ("queue_id",))
        return int(content.load("queue_id")) if "queue_id" in content.datasets else None
    except Exception:  # absent, or being written by a job (executorlib's h5py): not ours to adopt
        return None


def remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def call_name(call: FileCall) -> str:
    return f"{cache_key.function_name(call.fn)}() (cache key {call.key})"


def tail(call: FileCall) -> str:
    workdir = call.resources.get("cwd") or call.stem
    parts = []
    for pattern in OUTPUT_FILES:
        path = os.path.join(workdir, pattern.format(job=call.job))
        try:
            with open(path, "rb") as handle:
                handle.seek(max(0, os.path.getsize(path) - 8192))
                lines = handle.read().decode(errors="replace").splitlines()[-TAIL_LINES:]
        except OSError:
            continue
        parts.append(f"\nend of {path}:\n" + ("\n".join(lines) if lines else "(empty)"))
    return "".join(parts) or f"; no output file in {workdir}"


def input_datasets(call: FileCall) -> dict[str, bytes]:
    """The datasets of the call's ``_i.h5`` (executorlib's names)."""
    datasets = {
        "function": store.pickle_value(call.fn),
        "input_args": store.pickle_value(call.args),
        "input_kwargs": store.pickle_value(call.kwargs),
        "resource_dict": store.pickle_value(call.resources),
    }
    if call.error_log_file:
        datasets["error_log_file"] = store.pickle_value(call.error_log_file)
    return datasets


def submit_options(call: FileCall) -> tuple[str, dict[str, Any]]:
    """The job's working directory and pysqa's template variables, as executorlib passes them."""
    options = {k: v for k, v in call.resources.items() if k not in NOT_FOR_PYSQA}
    options["cores"] = int(call.resources["cores"]) * int(call.resources.get("threads_per_core", 1))
    workdir = call.resources.get("cwd") or call.stem
    options.setdefault("job_name", os.path.basename(os.path.dirname(os.path.abspath(workdir))))
    return workdir, options


def read_outcome(call: FileCall, cached: bool = False) -> tuple[Any, BaseException | None]:
    """``(value, None)`` or ``(None, error)`` from the call's ``_o.h5``; FileNotFoundError while there is none.

    ``cached``: a file found before submitting.  An error without a ``runtime`` never ran: executorlib stores a
    refused submission that way, for ever; it is removed here and the call submitted again.
    """
    try:
        content = store.read_file(call.stem + "_o.h5", ("output", "error", "runtime"))
        if "output" in content.datasets:
            return content.load("output"), None
        if cached and "runtime" not in content.datasets:
            remove(call.stem + "_o.h5")
            raise FileNotFoundError(call.stem + "_o.h5")
        return None, content.load("error")
    except FileNotFoundError:
        raise
    except Exception as problem:  # damaged, or unpicklable here
        return None, QueueJobError(f"cannot read the output file of {call_name(call)}: {problem}")
