"""Functions the cluster benchmark runs as batch jobs (a tiny module: every job imports it)."""

import time


def inc(x: int) -> int:
    return x + 1


def sleep_then(x: int, seconds: float) -> int:
    time.sleep(seconds)
    return x
