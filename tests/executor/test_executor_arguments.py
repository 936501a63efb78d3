"""The constructor checks every front end shares (executor.frontends.arguments)."""

from __future__ import annotations

import pytest

from executor.frontends.arguments import block_workers, check_common


@pytest.mark.parametrize(
    ("max_workers", "max_cores", "cost", "workers"),
    [(2, None, 2, 2), (2, 1, 1, 2), (None, 4, 2, 2), (None, 5, 2, 2), (None, None, 1, None)],
)
def test_block_workers_counts_as_executorlib(max_workers, max_cores, cost, workers) -> None:
    # max_workers is the number of workers, each with the executor's resource_dict; it wins over max_cores.
    assert block_workers(max_workers, max_cores, cost) == workers


def test_block_workers_names_a_max_cores_too_small_for_one_worker() -> None:
    with pytest.raises(ValueError, match=r"max_cores=1 is less than the 2 cores one worker needs.*max_workers"):
        block_workers(None, 1, 2)


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"max_workers": 0}, ValueError, "max_workers must be None or an int >= 1, got 0"),
        ({"max_cores": True}, ValueError, "max_cores must be None or an int >= 1, got True"),
        ({"init_function": print}, ValueError, "init_function needs block_allocation=True"),
        ({"block_allocation": True, "init_function": 3}, TypeError, "init_function must be callable"),
        ({"restart_limit": -1}, ValueError, "restart_limit must be an int >= 0"),
        ({"restart_limit": 1}, ValueError, "restart_limit needs block_allocation=True"),
        ({"wait": False}, ValueError, "only supported by SlurmClusterExecutor and FluxClusterExecutor"),
    ],
)
def test_check_common_names_the_parameter(changes, error, match) -> None:
    arguments = {"max_workers": None, "max_cores": None, "block_allocation": False, "init_function": None,
                 "restart_limit": 0, "wait": True, **changes}  # fmt: skip
    with pytest.raises(error, match=match):
        check_common(**arguments)
