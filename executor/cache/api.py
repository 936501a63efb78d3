"""The cache functions of executorlib's public interface, with executorlib's signatures and results.

Differences, all on purpose (see docs/cache.md):

* ``get_cache_data`` skips, with one warning each, files it cannot read (damaged, other format version,
  unpicklable here) instead of failing on the first one.
* ``get_future_from_cache`` never returns a future that stays pending: a key with an input file but no output
  yet raises ``CachePendingError`` (a ``FileNotFoundError``), where executorlib returns a future that is never
  resolved.  Like executorlib, a stored error is raised, and an unknown key raises ``FileNotFoundError``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import warnings
from concurrent.futures import Future
from typing import Any

from executor.cache import paths, store
from executor.cache.errors import CacheCorruptError, CacheCorruptWarning, CacheError, CachePendingError
from executor.errors import install_hint

__all__ = ["get_cache_data", "get_future_from_cache", "terminate_task_in_cache", "terminate_tasks_in_cache"]


def get_cache_data(cache_directory: str) -> list[dict[str, Any]]:
    """One dict per cache file below ``cache_directory``: every stored dataset unpickled, plus ``filename``.

    Keys are executorlib's dataset names (``function``, ``input_args``, ``input_kwargs``, ``output``,
    ``error``, ``resource_dict``, ``runtime``, ``queue_id``, ``error_log_file``), present when stored.
    """
    result = []
    for file_name in paths.iter_cache_files(cache_directory):
        try:
            content = store.read_file(file_name, store.DATASET_NAMES)  # other datasets are not ours to unpickle
            entry = {name: content.load(name) for name in content.datasets}
        except FileNotFoundError:
            continue  # removed while we walked
        except CacheError as exc:
            warnings.warn(f"skipping {exc}", CacheCorruptWarning, stacklevel=2)
            continue
        except Exception as exc:  # unpickling: missing module, other Python version, damaged pickle
            warnings.warn(
                f"skipping cache file {file_name}: cannot unpickle it here ({type(exc).__name__}: {exc})",
                CacheCorruptWarning,
                stacklevel=2,
            )
            continue
        entry["filename"] = file_name
        result.append(entry)
    return result


def get_future_from_cache(cache_directory: str, cache_key: str) -> Future:
    """A resolved Future holding the cached output of ``cache_key``.

    Raises the stored exception if the task failed (cluster executors store errors), ``CachePendingError``
    if only the input file exists (queued or running), ``FileNotFoundError`` if neither exists,
    ``CacheCorruptError`` / ``CacheVersionError`` for an unreadable file.
    """
    file_out = paths.output_path(cache_directory, cache_key)
    file_in = paths.input_path(cache_directory, cache_key)
    for file_name in (file_out, file_in):
        try:
            content = store.read_file(file_name, ("output", "error"))
        except FileNotFoundError:
            continue
        future: Future = Future()
        if "output" in content.datasets:
            future.set_result(content.load("output"))
            return future
        if "error" in content.datasets:
            raise content.load("error")
        if file_name == file_out:
            raise CacheCorruptError(f"cache file {file_out} holds neither an output nor an error")
        raise CachePendingError(
            f"cache key {cache_key!r} in {cache_directory}: the input file {file_in} exists but the output "
            f"does not yet -- the task is queued or running, or its job ended without output. Try again "
            f"later, or resubmit the same call with the same cache_directory to wait for it."
        )
    raise FileNotFoundError(
        f"Neither input nor output file for cache key {cache_key} found in cache directory {cache_directory}."
    )


def terminate_tasks_in_cache(
    cache_directory: str,
    pysqa_config_directory: str | None = None,
    backend: str | None = None,
) -> None:
    """Delete from the queuing system every job whose ``_i.h5`` below ``cache_directory`` holds a ``queue_id``,
    and remove those input files (as executorlib does).  ``backend`` is ``"slurm"`` or ``"flux"``."""
    for file_name in list(paths.iter_cache_files(cache_directory)):
        if file_name.endswith(paths.INPUT_SUFFIX):
            _terminate_and_remove(file_name, pysqa_config_directory, backend)


def terminate_task_in_cache(
    cache_directory: str,
    cache_key: str,
    pysqa_config_directory: str | None = None,
    backend: str | None = None,
) -> None:
    """Delete one task's queue job (if its ``_i.h5`` holds a ``queue_id``) and remove the input file.

    Raises ``FileNotFoundError`` if the task has no input file, as executorlib does.
    """
    _terminate_and_remove(paths.input_path(cache_directory, cache_key), pysqa_config_directory, backend)


def read_queue_id(file_name: str) -> int | None:
    """The queue job id stored in an input file, or None (absent, unreadable)."""
    try:
        content = store.read_file(file_name, ("queue_id",))
        return content.load("queue_id") if "queue_id" in content.datasets else None
    except FileNotFoundError:
        return None
    except Exception as exc:
        warnings.warn(f"cannot read the queue id of {file_name}: {exc}", CacheCorruptWarning, stacklevel=3)
        return None


def _terminate_and_remove(file_name: str, config_directory: str | None, backend: str | None) -> None:
    if not os.path.exists(file_name):
        raise FileNotFoundError(f"no input file {file_name}")
    queue_id = read_queue_id(file_name)
    if queue_id is not None:
        delete_queue_job(queue_id, config_directory=config_directory, backend=backend)
    with contextlib.suppress(FileNotFoundError):
        os.remove(file_name)


def delete_queue_job(queue_id: int, config_directory: str | None = None, backend: str | None = None) -> None:
    """Cancel ``queue_id`` through pysqa unless the queuing system already reports it finished or failed."""
    try:
        from pysqa import QueueAdapter
    except ImportError as exc:
        raise ImportError(
            f"terminating queued tasks needs pysqa; install the 'cluster' extra: {install_hint('cluster')}"
        ) from exc
    adapter = QueueAdapter(directory=config_directory, queue_type=backend, execute_command=_run_command)
    status = adapter.get_status_of_job(process_id=queue_id)
    if status is not None and status not in ("finished", "error"):
        with contextlib.suppress(subprocess.CalledProcessError):
            adapter.delete_job(process_id=queue_id)


def _run_command(
    commands: str | list[str],
    working_directory: str | None = None,
    split_output: bool = True,
    shell: bool = False,
    error_filename: str = "pysqa.err",
) -> str | list[str]:
    """pysqa's command hook, raising ``CalledProcessError`` on failure (pysqa's default writes a file instead)."""
    if shell and isinstance(commands, list):
        commands = " ".join(commands)
    out = subprocess.check_output(
        commands,
        cwd=working_directory,
        stderr=subprocess.STDOUT,
        text=True,
        shell=not isinstance(commands, list),
    )
    return out.split("\n") if split_output else out
