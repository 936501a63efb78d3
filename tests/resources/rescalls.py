"""Functions the resource tests run in worker processes.

Workers get the caller's ``sys.path`` and import this module by name, so it must import nothing from pytest.
Everything a call wants to tell the test goes into its return value or into files the test names.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


class RankError(Exception):
    """Raised on purpose by one MPI rank."""


def wait_for(path, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout} s")
        time.sleep(0.005)


def touch(path):
    with open(path, "a"):
        pass


# ---- MPI ---------------------------------------------------------------------------------------------------
def rank_info(x):
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    return {"rank": comm.Get_rank(), "size": comm.Get_size(), "pid": os.getpid(), "x": x}


def fail_on_rank(bad_rank):
    from mpi4py import MPI

    rank = MPI.COMM_WORLD.Get_rank()
    if rank == bad_rank:
        raise RankError(f"rank {rank} failed on purpose")
    return rank


def quick(x):
    return x


# ---- threads / GPUs / cwd -------------------------------------------------------------------------------------
def thread_env():
    return {"pid": os.getpid(), **{name: os.environ.get(name) for name in THREAD_VARIABLES}}


def interval(seconds):
    start = time.time()
    time.sleep(seconds)
    return start, time.time()


def rendezvous(directory, me, count, timeout=4.0):
    """Mark ``me`` present in ``directory`` and wait until ``count`` calls are: True only if they overlapped."""
    touch(os.path.join(directory, f"{me}.here"))
    deadline = time.monotonic() + timeout
    while len([n for n in os.listdir(directory) if n.endswith(".here")]) < count:
        if time.monotonic() > deadline:
            return {"met": False, "cuda": os.environ.get("CUDA_VISIBLE_DEVICES")}
        time.sleep(0.005)
    return {"met": True, "cuda": os.environ.get("CUDA_VISIBLE_DEVICES")}


def cuda_interval(seconds):
    start = time.time()
    time.sleep(seconds)
    return {"start": start, "end": time.time(), "cuda": os.environ.get("CUDA_VISIBLE_DEVICES")}


def getcwd():
    return os.getcwd()


def started_then_wait(started, go):
    touch(started)
    wait_for(go)
    return os.getcwd()


# ---- run_time_max --------------------------------------------------------------------------------------------
def sleep_with_child(directory, seconds=60):
    """Start ``sleep`` as a child, record both pids (one file per process/rank), then sleep."""
    child = subprocess.Popen(["sleep", str(seconds)])
    record = {"self": os.getpid(), "child": child.pid, "t": time.time()}
    path = os.path.join(directory, f"{os.getpid()}.json")
    with open(path + ".tmp", "w") as f:
        json.dump(record, f)
    os.replace(path + ".tmp", path)
    time.sleep(seconds)
    return "not stopped"


def sleep_then_return(seconds, value):
    time.sleep(seconds)
    return value


# ---- error_log_file ------------------------------------------------------------------------------------------
def marker(kind, token):
    return "<" + kind + ":" + token + ">"


def fail_with(value, *, label):
    raise ValueError("failed-on-purpose " + str(value))


def fail_marked(arg, *, label, size=0):
    token = arg.split(":", 1)[1].rstrip(">")
    raise ValueError(marker("ERR", token) + "x" * size + marker("/ERR", token))


def fail_after(seconds):
    time.sleep(seconds)
    raise ValueError("late failure")


def started_then_fail(started, go):
    touch(started)
    wait_for(go)
    raise ValueError("failed after the caller moved")


# ---- priority -------------------------------------------------------------------------------------------------
def append_line(path, line):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)
    return line


def cuda_with_worker_id(seconds, executorlib_worker_id=None):
    time.sleep(seconds)
    return {"worker_id": executorlib_worker_id, "cuda": os.environ.get("CUDA_VISIBLE_DEVICES")}


def fail_on_rank_while_others_wait(bad_rank):
    """One rank raises; the others wait for it in a collective (the usual way an MPI program fails)."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    if comm.Get_rank() == bad_rank:
        raise RankError(f"rank {bad_rank} failed on purpose")
    comm.barrier()
    return comm.Get_rank()


def array_times_rank(array):
    """Each rank sends back the (large) array times its rank + 1."""
    from mpi4py import MPI

    return array * (MPI.COMM_WORLD.Get_rank() + 1)
