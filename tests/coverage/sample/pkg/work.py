"""Functions that run only inside executor workers: the sample's tests never call them directly.

A line marked ``# worker-only: <tag>`` must be counted in the combined report; ``# never: <tag>`` must not
(its worker was opted out, or could not measure).
"""

import multiprocessing
import os
import signal
import subprocess
import sys
import time


def per_call(x):
    doubled = x * 2  # worker-only: per_call
    return doubled, os.getpid()


def in_block(x):
    return x + 1  # worker-only: block


def where():
    return os.getcwd()  # worker-only: other_cwd


def before_stop():
    return os.getpid()  # worker-only: shutdown


def orphaned():
    return os.getpid()  # worker-only: orphaned


def sigterm_self():
    os.getpid()  # worker-only: sigterm
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(10)


def exit_hard():
    sys.stdout.flush()  # worker-only: os_exit
    os._exit(3)


def forks():
    pid = os.fork()
    if pid == 0:
        child()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    return status  # worker-only: fork_parent


def child():
    return 1  # worker-only: fork_child


def uses_multiprocessing():
    with multiprocessing.get_context("fork").Pool(1) as pool:
        squares = pool.map(square, [3])
        pool.close()  # as coverage advises: terminate() at the end of the block could kill it mid-save
        pool.join()
    return squares


def square(x):
    return x * x  # worker-only: multiprocessing


def branchy(flag):
    if flag:
        return "yes"  # worker-only: branch
    return "no"


def spawns_python():
    code = "from pkg import work; work.in_subprocess()"
    return subprocess.run([sys.executable, "-c", code], check=True).returncode  # worker-only: spawns


def in_subprocess():
    return 1  # subprocess: in_subprocess


def broken_process_start():
    return 1  # worker-only: broken_process_start


def opted_out_keyword():
    return 1  # never: keyword


def opted_out_env():
    return 1  # never: env


def unusable_config():
    return 1  # never: unusable


def failing_start():
    return 1  # never: failing_start
