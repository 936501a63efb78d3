"""``priority``: among queued calls the higher priority starts first; equal priorities keep submission order."""

from __future__ import annotations

import time

import pytest
import rescalls

pytestmark = pytest.mark.timeout(60)

# (label, priority) in submission order
QUEUED = [("a", 0), ("b", 5), ("c", -1), ("d", 5), ("e", 0), ("f", 10), ("g", -1), ("h", 0), ("i", 5)]


def test_queued_calls_start_by_priority_then_submission_order(executors, tmp_path):
    order = str(tmp_path / "order.txt")
    started, go = tmp_path / "started", tmp_path / "go"
    ex = executors.make(None, max_workers=1)
    first = ex.submit(rescalls.started_then_wait, str(started), str(go))
    rescalls.wait_for(str(started), 20)  # the only worker/slot is busy: everything below queues
    futures = []
    for label, priority in QUEUED:  # submitted over a short while, as a program does: all queue behind `first`
        futures.append(ex.submit(rescalls.append_line, order, label, resource_dict={"priority": priority}))
        time.sleep(0.03)
    rescalls.touch(str(go))
    first.result(timeout=30)
    assert [f.result(timeout=30) for f in futures] == [label for label, _ in QUEUED]
    with open(order) as f:
        ran = f.read().split()
    expected = [label for label, _ in sorted(QUEUED, key=lambda item: -item[1])]  # sorted() is stable
    assert ran == expected


def test_default_priority_is_zero(executors, tmp_path):
    order = str(tmp_path / "order.txt")
    started, go = tmp_path / "started", tmp_path / "go"
    ex = executors.make(None, max_workers=1)
    first = ex.submit(rescalls.started_then_wait, str(started), str(go))
    rescalls.wait_for(str(started), 20)
    futures = []
    for label, resources in [("high", {"priority": 1}), ("low", {"priority": -1}), ("default", None)]:
        futures.append(ex.submit(rescalls.append_line, order, label, resource_dict=resources))
        time.sleep(0.03)
    rescalls.touch(str(go))
    first.result(timeout=30)
    for f in futures:
        f.result(timeout=30)
    with open(order) as f:
        assert f.read().split() == ["high", "default", "low"]
