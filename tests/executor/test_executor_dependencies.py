"""Futures as arguments: awaited, substituted, failures propagated without running the dependent call."""

from __future__ import annotations

from concurrent.futures import Future

import pytest

import xcalls
from executor import get_item_from_future, split_future
from executor.api import FutureSelector

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(params=["pending", "done"])
def inputs_state(request) -> str:
    """Whether the input futures are still running when the dependent call is submitted, or already done."""
    return request.param


def _input(ex, value, state: str, seconds: float = 0.2) -> Future:
    future = ex.submit(xcalls.sleep_return, value, seconds if state == "pending" else 0.0)
    if state == "done":
        future.result(timeout=10)
    return future


def test_futures_anywhere_in_args_and_kwargs_are_replaced_by_results(make_executor, inputs_state) -> None:
    ex = make_executor(max_workers=2)
    a = _input(ex, 1, inputs_state)
    b = _input(ex, "two", inputs_state)
    future = ex.submit(xcalls.echo, a, [a, (b, {"k": [b]})], {"d": a}, key=b, nested={"x": (a, [b])})
    args, kwargs = future.result(timeout=10)
    assert args == (1, [1, ("two", {"k": ["two"]})], {"d": 1})
    assert isinstance(args[1][1], tuple), "tuples stay tuples"
    assert kwargs == {"key": "two", "nested": {"x": (1, ["two"])}}


def test_chain_of_dependencies(make_executor) -> None:
    ex = make_executor(max_workers=2)
    f = ex.submit(xcalls.add, 1, 1)
    for _ in range(5):
        f = ex.submit(xcalls.add, f, 1)
    assert f.result(timeout=15) == 7


def test_failed_input_fails_the_dependent_call_without_running_it(make_executor, inputs_state, tmp_path) -> None:
    ex = make_executor(max_workers=2)
    bad = ex.submit(xcalls.sleep_then_raise, "input broke", 0.2 if inputs_state == "pending" else 0.0)
    if inputs_state == "done":
        with pytest.raises(xcalls.CustomError):
            bad.result(timeout=10)
    marker = tmp_path / "dependent-ran"
    good = ex.submit(xcalls.identity, 5)
    dependent = ex.submit(xcalls.write_marker, str(marker), good, nested=[{"x": bad}])
    with pytest.raises(xcalls.CustomError, match="input broke"):
        dependent.result(timeout=10)
    ex.shutdown(wait=True)
    assert not marker.exists(), "a call whose input failed must not run"


def test_failure_propagates_along_a_chain(make_executor, tmp_path) -> None:
    ex = make_executor(max_workers=2)
    first = ex.submit(xcalls.raise_custom, "root cause")
    second = ex.submit(xcalls.write_marker, str(tmp_path / "second"), first)
    third = ex.submit(xcalls.write_marker, str(tmp_path / "third"), [second])
    for future in (first, second, third):
        with pytest.raises(xcalls.CustomError, match="root cause"):
            future.result(timeout=10)
    ex.shutdown(wait=True)
    assert not (tmp_path / "second").exists() and not (tmp_path / "third").exists()


def test_disable_dependencies_rejects_futures_at_submit(make_executor) -> None:
    ex = make_executor(max_workers=1, disable_dependencies=True)
    future = ex.submit(xcalls.identity, 1)
    assert future.result(timeout=10) == 1
    for args, kwargs in [((future,), {}), (([future],), {}), ((), {"x": {"k": future}})]:
        with pytest.raises((ValueError, TypeError), match="Future|disable_dependencies"):
            ex.submit(xcalls.echo, *args, **kwargs)
    assert ex.submit(xcalls.identity, 2).result(timeout=10) == 2


# ---- batched ------------------------------------------------------------------------------------------------------
def test_batched_groups_results_in_completion_order() -> None:
    from executor import SingleNodeExecutor

    futures = [Future() for _ in range(5)]
    with SingleNodeExecutor(max_workers=1) as ex:
        batches = ex.batched(futures, n=2)
    assert len(batches) == 3
    for i in [3, 1, 4, 0, 2]:
        futures[i].set_result(i)
    assert [b.result(timeout=1) for b in batches] == [[3, 1], [4, 0], [2]]


def test_batched_with_executor_futures_feeds_other_calls(make_executor) -> None:
    ex = make_executor(max_workers=2)
    futures = [ex.submit(xcalls.sleep_return, i, 0.05 * (i % 3)) for i in range(7)]
    batches = ex.batched(futures, n=3)
    assert len(batches) == 3
    values = [b.result(timeout=10) for b in batches]
    assert [len(v) for v in values] == [3, 3, 1]
    assert sorted(x for v in values for x in v) == list(range(7))
    assert ex.submit(xcalls.total, batches).result(timeout=10) == sum(range(7))


# ---- selecting items of a future's result -----------------------------------------------------------------------
def test_split_future_items_are_futures_usable_as_inputs(make_executor) -> None:
    ex = make_executor(max_workers=2)
    source = ex.submit(xcalls.sleep_return, (1, 20, 300), 0.1)
    parts = split_future(source, n=3)
    assert all(isinstance(p, Future) for p in parts)
    assert ex.submit(xcalls.add, parts[0], parts[2]).result(timeout=10) == 301
    assert [p.result() for p in parts] == [1, 20, 300]


def test_get_item_from_future_is_usable_as_input(make_executor) -> None:
    ex = make_executor(max_workers=2)
    source = ex.submit(xcalls.sleep_return, {"a": 2, "b": 40}, 0.1)
    a = get_item_from_future(source, key="a")
    b = FutureSelector(source, "b")
    assert ex.submit(xcalls.add, a, b).result(timeout=10) == 42
    assert ex.submit(xcalls.echo, [a], k={"b": b}).result(timeout=10) == (([2],), {"k": {"b": 40}})


def test_selectors_fail_like_their_source(make_executor, tmp_path) -> None:
    ex = make_executor(max_workers=2)
    source = ex.submit(xcalls.raise_custom, "no tuple")
    first, _ = split_future(source, n=2)
    item = get_item_from_future(source, key="a")
    marker = tmp_path / "ran"
    dependent = ex.submit(xcalls.write_marker, str(marker), first)
    for future in (first, item, dependent):
        with pytest.raises(xcalls.CustomError):
            future.result(timeout=10)
    ex.shutdown(wait=True)
    assert not marker.exists()


def test_batched_with_a_failed_input_fails_instead_of_hanging(make_executor) -> None:
    ex = make_executor(max_workers=2)
    futures = [ex.submit(xcalls.identity, 1), ex.submit(xcalls.raise_custom, "bad"), ex.submit(xcalls.identity, 3)]
    batches = ex.batched(futures, n=2)
    first = batches[0]
    assert isinstance(first.exception(timeout=10), xcalls.CustomError) or sorted(first.result()) == [1, 3]  # completion order
    assert isinstance(batches[-1].exception(timeout=10), xcalls.CustomError)
