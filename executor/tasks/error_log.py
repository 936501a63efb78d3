"""``resource_dict["error_log_file"]``: append a record of each failed call.

Many workers, executors and processes may write the same file.  Each record is written with one ``write()``
on a descriptor opened with ``O_APPEND`` while holding an exclusive ``flock`` on it, so a record never
interleaves with another (``O_APPEND`` alone suffices on local file systems; the lock also covers NFS).
"""

from __future__ import annotations

import datetime
import fcntl
import os
import traceback
from typing import Any

from executor.channel import oob


def record(fn_name: str, payload: oob.Pickled, error: BaseException) -> str:
    """The text of one record: time, function, arguments and the (worker-side) traceback."""
    try:
        _, args, kwargs = oob.loads(payload)
        arguments = f"args: {args!r}\nkwargs: {kwargs!r}\n"
    except Exception as unpickling_error:  # keep the record even if the inputs do not load here
        arguments = f"args/kwargs: (could not be loaded: {unpickling_error!r})\n"
    cause = error.__cause__
    tb = str(cause) if cause is not None and type(cause).__name__ == "RemoteTraceback" else ""
    if not tb:
        tb = "".join(traceback.format_exception_only(type(error), error))
    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    return f"=== {stamp} {fn_name}() failed\nfunction: {fn_name}\n{arguments}{tb.rstrip()}\n\n"


def append(path: str | os.PathLike[str], text: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        data = memoryview(text.encode())
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)  # closing releases the lock


def log_failure(path: Any, fn_name: str, payload: oob.Pickled, error: BaseException) -> None:
    append(path, record(fn_name, payload, error))
