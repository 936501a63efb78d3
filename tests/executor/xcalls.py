"""Functions the behaviour tests submit to workers.

They live in their own small module (stdlib imports only) so that a worker importing them does not pay for
importing pytest or hypothesis: workers get the caller's ``sys.path`` and import this module by name.
Files are the side channel: a call writes a marker or timestamps so a test can prove what ran, when and where.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

# Module-level state: one-process-per-call workers must each see it fresh; block workers keep it.
COUNTER = 0


class CustomError(Exception):
    """An exception type of our own, to check that the type survives the trip back."""


def identity(x):
    return x


def add(a, b):
    return a + b


def echo(*args, **kwargs):
    return args, kwargs


def pid():
    return os.getpid()


def bump():
    """Increment the module counter and return ``(new value, pid)``."""
    global COUNTER
    COUNTER += 1
    return COUNTER, os.getpid()


def sleep_return(x, seconds):
    time.sleep(seconds)
    return x


def interval(seconds, directory=None):
    """Sleep and return ``(start, end)`` wall-clock times; optionally leave a start marker in ``directory``."""
    start = time.time()
    if directory is not None:
        Path(directory, f"start-{os.getpid()}-{start}").touch()
    time.sleep(seconds)
    return start, time.time()


def touch_then_sleep(path, seconds, value=None):
    """Create ``path`` (proves the call started), sleep, return ``value``."""
    Path(path).touch()
    time.sleep(seconds)
    return value


def write_marker(path, *args, **kwargs):
    """Create ``path``; proves that the call ran."""
    Path(path).write_text("ran")
    return "ran"


def wait_for_file(path, timeout=10.0):
    """Block until ``path`` exists (the test releases the call), return the pid."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear")
        time.sleep(0.005)
    return os.getpid()


def worker_id(executorlib_worker_id):
    return executorlib_worker_id


def worker_id_and_pid(seconds=0.0, executorlib_worker_id=None):
    time.sleep(seconds)
    return executorlib_worker_id, os.getpid()


def no_special_parameters(x):
    return x * 2


def init_state():
    return {"offset": 100, "init_pid": os.getpid(), "unused_entry": "never asked for"}


def uses_init(x, offset, init_pid):
    return x + offset, init_pid, os.getpid()


def raise_custom(message):
    raise CustomError(message)  # the line the traceback must show


def raise_value_error():
    raise ValueError("input failed")


def die_sigkill(stamp=None):
    if stamp is not None:
        Path(stamp).write_text(repr(time.time()))
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(10)


def die_os_exit(stamp=None):
    if stamp is not None:
        Path(stamp).write_text(repr(time.time()))
    os._exit(3)


def die_sys_exit(stamp=None):
    if stamp is not None:
        Path(stamp).write_text(repr(time.time()))
    sys.exit(2)


def die_once(marker):
    """Kill the worker the first time (leaving ``marker``), succeed when retried."""
    if not os.path.exists(marker):
        Path(marker).touch()
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(10)
    return "survived", os.getpid()


def count_and_die(counter_dir):
    """Record one attempt in ``counter_dir``, then kill the worker (every time)."""
    Path(counter_dir, f"attempt-{os.getpid()}-{time.time()}").touch()
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(10)


def return_generator():
    return (i for i in range(3))


def return_lock():
    return threading.Lock()


class UnpicklableError(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.lock = threading.Lock()


class TwoArgumentError(Exception):
    """Pickles, but cannot be re-created from its pickle: ``args`` holds one message, ``__init__`` needs two."""

    def __init__(self, a, b):
        super().__init__(f"needs {a} and {b}")
        self.a, self.b = a, b


def raise_two_argument_error(a, b):
    raise TwoArgumentError(a, b)  # the line the traceback must show


def raise_unpicklable():
    raise UnpicklableError("carries a lock")


def environment():
    return dict(os.environ)


def getenv(name):
    return os.environ.get(name)


def cwd():
    return os.getcwd()


def total(lists):
    return sum(sum(x) for x in lists)


def pid_to_file_then_wait(directory, release, timeout=10.0):
    """Write this worker's pid into ``directory``, then wait for ``release`` to exist."""
    Path(directory, f"pid-{os.getpid()}").touch()
    return wait_for_file(release, timeout)


class MarkerPayload:
    """Unpickling this object creates the directory ``path`` (what an attacker's pickle would do)."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def sleep_then_raise(message, seconds):
    time.sleep(seconds)
    raise CustomError(message)


def big_result(size):
    return b"x" * size


def init_raises():
    raise CustomError("init failed")


def init_not_a_dict():
    return ["not", "a", "dict"]


def start_child(directory):
    """Start a long ``sleep`` child and return without waiting for it; its pid is written to ``directory``."""
    import subprocess

    child = subprocess.Popen(["sleep", "600"])
    Path(directory, f"child-{child.pid}").touch()
    return child.pid


def start_daemon(directory):
    """Start a daemon the classic way (fork, setsid, fork again; the middle process exits) and return its pid
    once it has written it to ``directory``: it is in no process group of the worker's."""
    ready_r, ready_w = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.setsid()
        if os.fork() == 0:
            Path(directory, f"daemon-{os.getpid()}").touch()
            os.write(ready_w, str(os.getpid()).encode())
            time.sleep(600)
        os._exit(0)
    os.close(ready_w)
    os.waitpid(middle, 0)
    pid = int(os.read(ready_r, 32))
    os.close(ready_r)
    return pid


def start_then_sleep(starter, directory, seconds=600):
    """Start a child or daemon (``starter``: a function name of this module), then sleep."""
    globals()[starter](directory)
    time.sleep(seconds)
# ---- big payloads (out-of-band buffers) ------------------------------------------------------------------------
def add_one_in_place(array):
    """Change the received array in place (it must be writable) and send it back."""
    array += 1
    return array


def arrays_in_and_out(a, b, *, c, small):
    """Several arrays each way, nested, large and small, C and Fortran order."""
    import numpy

    return {"sums": (float(a.sum()), float(b.sum()), float(c.sum())), "a2": a * 2, "parts": [b.T, numpy.asfortranarray(c)],
            "small": small + 1, "raw": bytes(200_000)}  # fmt: skip
