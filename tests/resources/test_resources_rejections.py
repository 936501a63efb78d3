"""Resources SingleNodeExecutor cannot honour are rejected in submit() (or construction), naming the alternatives."""

from __future__ import annotations

import pytest
import rescalls
from reshelpers import shut_down_within

from executor import SingleNodeExecutor

pytestmark = pytest.mark.timeout(30)

MULTI_NODE = ["SlurmJobExecutor", "SlurmClusterExecutor", "FluxJobExecutor", "FluxClusterExecutor"]
SLURM = ["SlurmJobExecutor", "SlurmClusterExecutor"]

UNSUPPORTED = [
    pytest.param({"num_nodes": 2}, MULTI_NODE, id="num_nodes"),
    pytest.param({"exclusive": True}, MULTI_NODE, id="exclusive"),
    pytest.param({"slurm_cmd_args": ["--mem=1G"]}, SLURM, id="slurm_cmd_args"),
]


def _assert_names(message: str, key: str, executors: list[str]) -> None:
    assert key in message, f"the message should name {key!r}: {message!r}"
    missing = [name for name in executors if name not in message]
    assert not missing, f"the message should name the executors that support {key!r} ({missing} missing): {message!r}"


@pytest.mark.parametrize("resources, supported_by", UNSUPPORTED)
def test_unsupported_resource_is_rejected_at_submit_naming_the_executors(mode, resources, supported_by):
    ex = SingleNodeExecutor(max_workers=1, block_allocation=mode == "block")
    try:
        with pytest.raises(ValueError) as caught:
            ex.submit(rescalls.quick, 1, resource_dict=resources)
        _assert_names(str(caught.value), next(iter(resources)), supported_by)
        assert ex.submit(rescalls.quick, 2).result(timeout=20) == 2
    finally:
        shut_down_within(ex, 10.0)  # nothing was left pending by the rejected call


@pytest.mark.parametrize("resources, supported_by", UNSUPPORTED)
def test_unsupported_resource_on_the_executor_is_rejected_at_construction(mode, resources, supported_by):
    with pytest.raises(ValueError) as caught:
        SingleNodeExecutor(max_workers=1, block_allocation=mode == "block", resource_dict=resources)
    _assert_names(str(caught.value), next(iter(resources)), supported_by)


def test_single_node_values_are_accepted(executors):
    resources = {"num_nodes": 1, "exclusive": False, "slurm_cmd_args": []}
    ex = executors.make(resources, max_workers=1)
    assert executors.submit(ex, resources, rescalls.quick, 3).result(timeout=20) == 3
