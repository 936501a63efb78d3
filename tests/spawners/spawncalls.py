"""Functions the spawner contract tests run in workers (importable by every kind of worker)."""

from __future__ import annotations

import os
import sys


def where(name: str) -> tuple[str | None, str]:
    return os.environ.get(name), os.getcwd()


def exit_with(code: int) -> None:
    sys.exit(code)


def pid() -> int:
    return os.getpid()


# ---- in-process state for the policy tests (fake workers are threads of the test process) ----------------------
import threading  # noqa: E402
import time  # noqa: E402

gate = threading.Event()
entered = threading.Event()  # a call is waiting at the gate
lock = threading.Lock()
running = 0
most_running = 0
order: list[str] = []
attempts: dict[str, int] = {}


def reset() -> None:
    global running, most_running
    gate.clear()
    entered.clear()
    running = most_running = 0
    order.clear()
    attempts.clear()


def busy(seconds: float) -> None:
    """Count how many calls run at once."""
    global running, most_running
    with lock:
        running += 1
        most_running = max(most_running, running)
    time.sleep(seconds)
    with lock:
        running -= 1


def wait_for_gate() -> None:
    entered.set()
    assert gate.wait(60), "the test never opened the gate"


def record(name: str) -> str:
    order.append(name)
    return name


def fail_first_attempt(name: str) -> str:
    attempts[name] = attempts.get(name, 0) + 1
    if attempts[name] == 1:
        sys.exit(1)  # ends the (fake) worker running it
    return name


def init_raises() -> dict:
    raise LookupError("no such state")
