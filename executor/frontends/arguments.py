"""Constructor checks shared by every executor front end, so that one mistake gets one message everywhere.

Layer: frontends.  executorlib's own checks (``max_workers``, ``max_cores``, ``init_function``,
``restart_limit``, ``wait``), plus ours for the keyword-only ``queue_timeout`` of the launchers that queue.
Each raises where the user built the executor, naming the parameter, its value and what is accepted.
``executorlib_info`` builds the ``info`` an executor reports from its arguments, with executorlib's keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def positive_or_none(name: str, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{name} must be None or an int >= 1, got {value!r}")


def check_common(
    *, max_workers: Any, max_cores: Any, block_allocation: bool, init_function: Any, restart_limit: Any, wait: bool
) -> None:
    """executorlib's checks of the parameters every interactive executor has."""
    positive_or_none("max_workers", max_workers)
    positive_or_none("max_cores", max_cores)
    if init_function is not None and not block_allocation:
        raise ValueError("init_function needs block_allocation=True (it initialises persistent workers)")
    if init_function is not None and not callable(init_function):
        raise TypeError(f"init_function must be callable, got {init_function!r}")
    if isinstance(restart_limit, bool) or not isinstance(restart_limit, int) or restart_limit < 0:
        raise ValueError(f"restart_limit must be an int >= 0, got {restart_limit!r}")
    if restart_limit and not block_allocation:
        raise ValueError("restart_limit needs block_allocation=True (only persistent workers are restarted)")
    if not wait:
        raise ValueError(
            "wait=False (leave calls running after the Python process ends) is only supported by "
            "SlurmClusterExecutor and FluxClusterExecutor"
        )


def check_queue_timeout(queue_timeout: Any) -> None:
    if isinstance(queue_timeout, bool) or not isinstance(queue_timeout, (int, float)) or not queue_timeout > 0:
        raise ValueError(f"queue_timeout must be a number of seconds > 0, got {queue_timeout!r}")


def plot_mode(plot_dependency_graph: bool, plot_dependency_graph_filename: Any, export_workflow_filename: Any) -> bool:
    """Any of the three graph parameters switches executorlib's plot mode on (nothing runs)."""
    return bool(plot_dependency_graph or plot_dependency_graph_filename or export_workflow_filename)


def block_workers(max_workers: int | None, max_cores: int | None, cost: int) -> int | None:
    """How many block-allocation workers, as executorlib counts them: ``max_workers`` (each worker with the
    executor's ``resource_dict``), else ``max_cores // cost`` (``cost`` = cores x threads_per_core of one
    worker), else ``None`` (the caller sizes from its machine, allocation or instance)."""
    if max_workers is not None:
        return max_workers
    if max_cores is None:
        return None
    if max_cores // cost < 1:
        raise ValueError(
            f"max_cores={max_cores} is less than the {cost} cores one worker needs (cores x threads_per_core of "
            "resource_dict); pass max_workers to set the number of workers"
        )
    return max_cores // cost


# executorlib drops these from the settings it reports (they only shape how workers are started).
_NOT_IN_INFO = ("threads_per_core", "gpus_per_core", "slurm_cmd_args")


def executorlib_info(resources: Mapping[str, Any], **settings: Any) -> dict[str, Any]:
    """The executor's ``info``: the same keys as executorlib's for the same executor (its resource_dict without
    ``threads_per_core``, ``gpus_per_core`` and ``slurm_cmd_args``, then the executor's settings)."""
    return {**{k: v for k, v in resources.items() if k not in _NOT_IN_INFO}, **settings}
