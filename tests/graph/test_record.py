"""Recording mode (what --xlib-graph uses): calls really run and the graph carries each call's state and duration."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
import xgraph_calls as calls

import executor
from executor.graph import CallLog, recording
from executor.graph.run_report import write

pytest.importorskip("h5py", reason="cache hits need the cache extra")
pytest.importorskip("pydot", reason="drawing needs the graph extra")


def _states(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [(n["name"], n["state"]) for n in document["nodes"] if n["type"] == "function" and "state" in n]


def test_states_durations_and_edges_of_a_real_run(tmp_path: Path) -> None:
    log = CallLog()
    never: Future[Any] = Future()
    with recording(log):
        first = executor.SingleNodeExecutor(cache_directory=str(tmp_path / "cache"))
        second = executor.SingleNodeExecutor(cache_directory=str(tmp_path / "cache"))
    with first:
        a = first.submit(calls.add, 1, 2)
        failed = first.submit(calls.fail, a)
        skipped = first.submit(calls.add, failed, 1)
        assert a.result() == 3
        with pytest.raises(ValueError):
            skipped.result()
    waiting = second.submit(calls.add, never, 1)
    hit = second.submit(calls.add, 1, 2)
    second.shutdown(wait=True, cancel_futures=True)
    assert hit.result() == 3 and waiting.cancelled()

    written = write(log, tmp_path / "graphs", "tests/x.py::test_y[1]")
    assert Path(written[0]).name == "tests_x.py__test_y_1_.json"
    document = json.loads(Path(written[0]).read_text())
    assert document["test"] == "tests/x.py::test_y[1]"
    assert _states(document) == [("add", "done"), ("fail", "failed"), ("add", "failed"), ("add", "cancelled"), ("add", "cache hit")]
    functions = [n for n in document["nodes"] if n["type"] == "function"]
    assert all(isinstance(n["duration"], float) and n["duration"] >= 0 for n in functions)
    assert functions[1]["error"] == "ValueError: failing on purpose with 3"
    assert {"start": 0, "end": 1, "label": "x"} in document["edges"]  # a -> fail(a)
    assert {"start": 1, "end": 2, "label": "x"} in document["edges"]  # fail -> add(failed, 1)
    dot = Path(written[1]).read_text()
    assert 'fillcolor="salmon"' in dot and 'fillcolor="lightblue"' in dot and "cache hit" in dot
    assert len(written) == (3 if shutil.which("dot") else 2)


def test_executors_built_outside_recording_keep_no_log(tmp_path: Path) -> None:
    log = CallLog()
    with recording(log):
        pass
    with executor.SingleNodeExecutor() as ex:
        assert ex.submit(calls.add, 1, 2).result() == 3
    assert log.calls == []
