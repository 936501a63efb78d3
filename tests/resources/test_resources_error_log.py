"""``error_log_file``: every failed call appends one intact record (function, args, kwargs, traceback)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading

import pytest
import rescalls
from reshelpers import eventually

pytestmark = pytest.mark.timeout(60)

HERE = os.path.dirname(os.path.abspath(__file__))


def log_when_done(future, log):
    """The log file's text at the moment ``future`` becomes done (the caller may read it as soon as it is)."""
    seen = []
    done = threading.Event()

    def read(_):
        try:
            with open(log) as f:
                seen.append(f.read())
        except FileNotFoundError:
            seen.append(None)
        done.set()

    future.add_done_callback(read)
    assert done.wait(30), "the future did not finish"
    return seen[0]


def test_failure_writes_function_args_kwargs_and_traceback(executors, tmp_path):
    log = tmp_path / "logs" / "errors.log"
    ex = executors.make(None, max_workers=1)
    future = ex.submit(rescalls.fail_with, "arg-value-123", label="kw-value-456", resource_dict={"error_log_file": str(log)})
    with pytest.raises(ValueError, match="failed-on-purpose arg-value-123"):
        future.result(timeout=30)
    assert eventually(log.exists, 5.0)
    text = log.read_text()
    assert "fail_with" in text
    assert "arg-value-123" in text
    assert "label" in text and "kw-value-456" in text
    assert "Traceback (most recent call last)" in text
    assert "ValueError: failed-on-purpose arg-value-123" in text
    assert 'raise ValueError("failed-on-purpose "' in text, "the traceback should be the worker-side one"


def test_success_writes_nothing(executors, tmp_path):
    log = tmp_path / "errors.log"
    ex = executors.make(None, max_workers=1)
    assert ex.submit(rescalls.quick, 1, resource_dict={"error_log_file": str(log)}).result(timeout=30) == 1
    assert not log.exists() or log.read_text() == ""


def test_call_stopped_by_its_time_limit_is_logged(executors, tmp_path):
    log = tmp_path / "errors.log"
    ex = executors.make(None, max_workers=1)
    future = ex.submit(rescalls.sleep_then_return, 30, "x", resource_dict={"error_log_file": str(log), "run_time_max": 0.5})
    with pytest.raises(TimeoutError):
        future.result(timeout=30)
    assert eventually(log.exists, 5.0)
    text = log.read_text()
    assert "sleep_then_return" in text and "run_time_max" in text


@pytest.mark.parametrize("how", ["raises", "time_limit"])
def test_record_is_in_the_file_when_the_future_fails(executors, tmp_path, how):
    """A caller that sees the failure (result(), a done-callback) and then opens the log finds the record."""
    log = tmp_path / "errors.log"
    ex = executors.make(None, max_workers=1)
    if how == "raises":
        future = ex.submit(rescalls.fail_with, 1, label="x", resource_dict={"error_log_file": str(log)})
    else:
        future = ex.submit(rescalls.sleep_then_return, 30, "x", resource_dict={"error_log_file": str(log), "run_time_max": 0.5})
    text = log_when_done(future, log)
    assert future.exception() is not None
    assert text is not None and future.exception().__class__.__name__ in text, (
        f"the future failed before its record was written to error_log_file (file content then: {text!r})"
    )


def test_relative_log_path_does_not_follow_a_later_chdir(executors, tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    monkeypatch.chdir(first)
    ex = executors.make(None, max_workers=1)
    started, go = tmp_path / "started", tmp_path / "go"
    future = ex.submit(rescalls.started_then_fail, str(started), str(go), resource_dict={"error_log_file": "errors.log"})
    rescalls.wait_for(str(started), 20)  # the call runs (in the caller's cwd of the time) ...
    monkeypatch.chdir(second)  # ... and the caller moves on before it fails
    rescalls.touch(str(go))
    with pytest.raises(ValueError):
        future.result(timeout=30)
    assert eventually(lambda: (first / "errors.log").exists() or (second / "errors.log").exists(), 5.0)
    assert not (second / "errors.log").exists(), "the relative error_log_file followed the caller's later chdir"
    assert (first / "errors.log").exists(), "the relative error_log_file should resolve where the call was submitted"


# ---- many concurrent writers ------------------------------------------------------------------------------------
PAYLOAD = 20_000  # characters of exception message per record: far beyond any atomic write size
MARKER = re.compile(r"<(/?ERR|ARG|KW):([A-Za-z0-9-]+)>")

OTHER_PROCESS = r"""
import sys
sys.path.insert(0, sys.argv[1])
import rescalls
from reshelpers import eventually
from executor import SingleNodeExecutor
log, count, size, block = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
with SingleNodeExecutor(max_cores=2, block_allocation=block) as ex:
    futures = [
        ex.submit(rescalls.fail_marked, rescalls.marker("ARG", f"p-{i}"), label=rescalls.marker("KW", f"p-{i}"),
                  size=size, resource_dict={"error_log_file": log})
        for i in range(count)
    ]
    failed = sum(1 for f in futures if f.exception(timeout=60) is not None)
print(failed)
"""


def _parse(text: str) -> dict[str, tuple[int, int]]:
    """Token -> (start, end) span of its markers in the file; fails if spans of two records interleave."""
    spans: dict[str, list[int]] = {}
    for match in MARKER.finditer(text):
        span = spans.setdefault(match.group(2), [match.start(), match.end()])
        span[0], span[1] = min(span[0], match.start()), max(span[1], match.end())
    ordered = sorted((s, e, token) for token, (s, e) in spans.items())
    for (_, end, token), (start, _, other) in zip(ordered, ordered[1:]):
        assert end <= start, f"the records of {token} and {other} are interleaved"
    return {token: (s, e) for token, (s, e) in spans.items()}


@pytest.mark.timeout(80)
def test_concurrent_writers_never_interleave_records(mode, tmp_path):
    from executor import SingleNodeExecutor

    log = str(tmp_path / "shared.log")
    per_writer = 20
    other = subprocess.Popen(
        [sys.executable, "-c", OTHER_PROCESS, HERE, log, str(per_writer), str(PAYLOAD), "1" if mode == "block" else "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    executors = [SingleNodeExecutor(max_cores=2, block_allocation=mode == "block") for _ in range(2)]
    try:
        futures = [
            ex.submit(
                rescalls.fail_marked,
                rescalls.marker("ARG", f"e{n}-{i}"),
                label=rescalls.marker("KW", f"e{n}-{i}"),
                size=PAYLOAD,
                resource_dict={"error_log_file": log},
            )
            for i in range(per_writer)
            for n, ex in enumerate(executors)
        ]
        assert all(isinstance(f.exception(timeout=60), ValueError) for f in futures)
    finally:
        for ex in executors:
            ex.shutdown(wait=True)
    out, _ = other.communicate(timeout=60)
    assert other.returncode == 0 and out.strip() == str(per_writer), out

    with open(log) as f:
        text = f.read()
    spans = _parse(text)
    expected = {f"e{n}-{i}" for n in range(2) for i in range(per_writer)} | {f"p-{i}" for i in range(per_writer)}
    assert set(spans) == expected, "one record per failed call, no more, no less"
    assert text.count("Traceback (most recent call last)") == len(expected)
    for token in expected:
        error = rescalls.marker("ERR", token) + "x" * PAYLOAD + rescalls.marker("/ERR", token)
        assert text.count(error) >= 1, f"the exception message of {token} is not intact in the log"
        assert text.count(rescalls.marker("ARG", token)) >= 1 and text.count(rescalls.marker("KW", token)) >= 1
