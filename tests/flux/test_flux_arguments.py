"""FluxJobExecutor's constructor is executorlib's, and bad arguments fail at construction with a clear error
(before flux is even asked); without flux's bindings the error says where they come from."""

from __future__ import annotations

import inspect
import sys

import pytest

from executor import FluxJobExecutor
from executor.spawners.flux_jobspec import exit_code, urgency_problem


def test_constructor_matches_executorlib() -> None:
    executorlib = pytest.importorskip("executorlib")
    theirs = inspect.signature(executorlib.FluxJobExecutor).parameters
    ours = inspect.signature(FluxJobExecutor).parameters
    positional = [name for name, p in ours.items() if p.kind is not inspect.Parameter.KEYWORD_ONLY]
    assert positional == list(theirs)
    for name, parameter in theirs.items():
        assert ours[name].default == parameter.default, name
    assert {n for n, p in ours.items() if p.kind is inspect.Parameter.KEYWORD_ONLY} == {"worker_coverage", "queue_timeout"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pmi_mode": "pmi3"}, "pmi_mode must be None or one of pmix, pmi1, pmi2"),
        ({"openmpi_oversubscribe": True}, "openmpi_oversubscribe=True is not supported by FluxJobExecutor"),
        ({"queue_timeout": 0}, "queue_timeout must be a number of seconds > 0"),
        ({"wait": False}, "only supported by SlurmClusterExecutor and FluxClusterExecutor"),
        ({"init_function": dict}, "init_function needs block_allocation=True"),
        ({"max_workers": 0}, "max_workers must be None or an int >= 1"),
        ({"restart_limit": 1}, "restart_limit needs block_allocation=True"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FluxJobExecutor(**kwargs)


def test_a_flux_executor_must_be_one() -> None:
    with pytest.raises(TypeError, match="flux_executor must be a flux.job.FluxExecutor"):
        FluxJobExecutor(flux_executor="local://")


def test_without_the_bindings_the_error_says_where_they_come_from(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "flux", None)  # "import flux" raises ImportError
    with pytest.raises(ImportError, match="flux's Python bindings.*flux start.*xlib mock-env flux"):
        FluxJobExecutor()


def test_urgency_range_is_flux_own() -> None:
    assert urgency_problem(None) is None and urgency_problem(0) is None and urgency_problem(31) is None
    assert "0..31" in (urgency_problem(32) or "") and "0..31" in (urgency_problem(-1) or "")


@pytest.mark.parametrize(
    ("status", "result", "code"),
    [
        (0, None, 0),
        (3 << 8, None, 3),
        (137 << 8, None, -9),  # the job shell's exit code for a task killed by SIGKILL
        (143 << 8, None, -15),
        (9, None, -9),  # a wait status of a signalled process
        (None, 2, 2),  # no finish event seen: the future's result
        (None, None, None),  # the job never ran
    ],
)
def test_exit_codes_from_flux(status: int | None, result: int | None, code: int | None) -> None:
    assert exit_code(status, result) == code


def test_workers_connect_through_loopback_only_when_every_node_is_this_host() -> None:
    import socket

    from executor.spawners.flux_launch import all_this_host

    name = socket.gethostname()
    assert all_this_host([name]) and all_this_host([name.split(".")[0].upper()]) and all_this_host(["localhost"])
    assert not all_this_host([name, f"{name}-other-node"])
    assert not all_this_host([])
