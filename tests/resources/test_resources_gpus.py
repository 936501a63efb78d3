"""``gpus_per_core``: devices from the caller's CUDA_VISIBLE_DEVICES (else nvidia-smi) are handed out distinctly."""

from __future__ import annotations

import re
import shutil

import pytest
import rescalls
from reshelpers import needs_mpi, shut_down_within

from executor import SingleNodeExecutor

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def two_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,7")
    return ["4", "7"]


@pytest.fixture
def no_nvidia_smi(monkeypatch):
    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name == "nvidia-smi" else real(name, *a, **k))


def test_concurrent_calls_get_distinct_devices(executors, two_devices):
    resources = {"gpus_per_core": 1}
    # per call: room for 4 calls by cores, so the 2 devices are the limit; block: one device per worker
    ex = executors.make(resources, max_workers=2) if executors.block else executors.make(max_cores=4)
    futures = [executors.submit(ex, resources, rescalls.cuda_interval, 0.3) for _ in range(6)]
    runs = [f.result(timeout=30) for f in futures]
    assert all(r["cuda"] in two_devices for r in runs), f"each call gets exactly one of the declared devices: {runs}"
    overlapping = 0
    for i, a in enumerate(runs):
        for b in runs[i + 1 :]:
            if a["start"] < b["end"] and b["start"] < a["end"]:
                overlapping += 1
                assert a["cuda"] != b["cuda"], f"two running calls shared device {a['cuda']}"
    assert overlapping, "with two devices, calls should have run two at a time"


def test_per_call_devices_are_freed_for_later_calls(two_devices):
    ex = SingleNodeExecutor(max_cores=4)
    try:
        first = [ex.submit(rescalls.cuda_interval, 0.1, resource_dict={"gpus_per_core": 1}) for _ in range(2)]
        assert sorted(f.result(timeout=30)["cuda"] for f in first) == two_devices
        both = ex.submit(rescalls.cuda_interval, 0, resource_dict={"gpus_per_core": 2}).result(timeout=30)
    finally:
        shut_down_within(ex, 20.0)
    assert sorted(both["cuda"].split(",")) == two_devices


@pytest.mark.parametrize(
    "resources, needed",
    [({"gpus_per_core": 3}, 3), pytest.param({"cores": 2, "gpus_per_core": 2}, 4, marks=needs_mpi)],
    ids=["1x3", "2x2"],
)
def test_asking_for_more_devices_than_exist_raises_at_submit(two_devices, resources, needed):
    ex = SingleNodeExecutor(max_cores=2)
    try:
        with pytest.raises(ValueError) as caught:
            ex.submit(rescalls.quick, 1, resource_dict=resources)
        message = str(caught.value)
        assert re.search(rf"\b{needed}\b", message), f"the message should name the {needed} GPUs asked for: {message!r}"
        assert re.search(r"\b2\b", message), f"the message should name the 2 GPUs there are: {message!r}"
    finally:
        shut_down_within(ex, 20.0)


@pytest.mark.parametrize("declared", [None, "", "NoDevFiles"])
def test_without_devices_any_gpu_request_is_rejected(mode, monkeypatch, no_nvidia_smi, declared):
    if declared is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", declared)
    if mode == "per_call":
        ex = SingleNodeExecutor(max_cores=2)
        try:
            with pytest.raises(ValueError, match="GPU"):
                ex.submit(rescalls.quick, 1, resource_dict={"gpus_per_core": 1})
            assert ex.submit(rescalls.quick, 1, resource_dict={"gpus_per_core": 0}).result(timeout=20) == 1
        finally:
            shut_down_within(ex, 20.0)
    else:
        with pytest.raises(ValueError, match="GPU"):
            SingleNodeExecutor(max_workers=1, block_allocation=True, resource_dict={"gpus_per_core": 1})


def test_block_workers_each_get_their_own_slice(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,3,5,7")
    ex = SingleNodeExecutor(max_workers=2, block_allocation=True, resource_dict={"gpus_per_core": 2})
    try:
        futures = [ex.submit(rescalls.cuda_with_worker_id, 0.15) for _ in range(8)]
        results = [f.result(timeout=30) for f in futures]
    finally:
        shut_down_within(ex, 20.0)
    slices = {}
    for r in results:
        assert slices.setdefault(r["worker_id"], r["cuda"]) == r["cuda"], "a worker keeps its slice"
    assert sorted(slices) == [0, 1], f"both workers should have run calls: {results}"
    assert all(len(s.split(",")) == 2 for s in slices.values()), slices
    assert sorted(d for s in slices.values() for d in s.split(",")) == ["1", "3", "5", "7"], slices


def test_block_more_workers_times_gpus_than_devices_raises_at_construction(two_devices):
    with pytest.raises(ValueError) as caught:
        SingleNodeExecutor(max_workers=3, block_allocation=True, resource_dict={"gpus_per_core": 1})
    assert re.search(r"\b3\b", str(caught.value)) and re.search(r"\b2\b", str(caught.value)), str(caught.value)
