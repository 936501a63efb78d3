"""Faults: exceptions in calls, workers that die, restarts, and things that cannot be pickled."""

from __future__ import annotations

import threading
import time

import pytest

import xcalls
from executor import SingleNodeExecutor
from executor.api import ExecutorlibSocketError

pytestmark = pytest.mark.timeout(30)

DEATHS = {"sigkill": xcalls.die_sigkill, "os_exit": xcalls.die_os_exit, "sys_exit": xcalls.die_sys_exit}


def _done_at(future) -> list[float]:
    """A list that receives the wall-clock time at which ``future`` becomes done."""
    when: list[float] = []
    future.add_done_callback(lambda _: when.append(time.time()))
    return when


# ---- exceptions -----------------------------------------------------------------------------------------------
def test_exception_keeps_its_type_and_carries_the_worker_traceback(make_executor) -> None:
    ex = make_executor(max_workers=1)
    future = ex.submit(xcalls.raise_custom, "boom 42")
    with pytest.raises(xcalls.CustomError, match="boom 42") as info:
        future.result(timeout=10)
    cause = info.value.__cause__
    assert cause is not None, "the worker-side traceback must be attached as __cause__"
    text = str(cause)
    assert "raise_custom" in text
    assert "raise CustomError(message)  # the line the traceback must show" in text
    assert "xcalls.py" in text
    assert isinstance(future.exception(), xcalls.CustomError)
    assert ex.submit(xcalls.identity, 1).result(timeout=10) == 1, "the executor stays usable"


def test_unpicklable_exception_still_fails_the_future(make_executor) -> None:
    ex = make_executor(max_workers=1)
    future = ex.submit(xcalls.raise_unpicklable)
    error = future.exception(timeout=10)
    assert error is not None
    assert "UnpicklableError" in str(error) and "carries a lock" in str(error)
    assert ex.submit(xcalls.identity, 1).result(timeout=10) == 1


# ---- worker death ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("death", list(DEATHS))
def test_worker_death_fails_only_that_call_quickly(make_executor, tmp_path, death: str) -> None:
    ex = make_executor(max_workers=2)
    bystander = ex.submit(xcalls.sleep_return, "bystander", 0.6)
    stamp = tmp_path / "died-at"
    doomed = ex.submit(DEATHS[death], str(stamp))
    done_at = _done_at(doomed)
    error = doomed.exception(timeout=10)
    assert isinstance(error, ExecutorlibSocketError), f"got {error!r}"
    assert done_at[0] - float(stamp.read_text()) < 2.0, "a dead worker's call must fail within 2 s"
    assert bystander.result(timeout=10) == "bystander", "other calls are unaffected"
    assert ex.submit(xcalls.add, 1, 2).result(timeout=10) == 3, "the executor stays usable"
    assert list(ex.map(xcalls.identity, range(3))) == [0, 1, 2]


def test_calls_queued_behind_a_dying_call_still_run(make_executor) -> None:
    ex = make_executor(max_workers=1)
    doomed = ex.submit(xcalls.die_sigkill)
    after = [ex.submit(xcalls.identity, i) for i in range(4)]
    assert isinstance(doomed.exception(timeout=10), ExecutorlibSocketError)
    assert [f.result(timeout=10) for f in after] == [0, 1, 2, 3]


def test_dependent_of_a_dead_call_fails_with_socket_error(make_executor, tmp_path) -> None:
    ex = make_executor(max_workers=1)
    doomed = ex.submit(xcalls.die_os_exit)
    marker = tmp_path / "ran"
    dependent = ex.submit(xcalls.write_marker, str(marker), doomed)
    with pytest.raises(ExecutorlibSocketError):
        dependent.result(timeout=10)
    assert ex.submit(xcalls.identity, 1).result(timeout=10) == 1
    ex.shutdown(wait=True)
    assert not marker.exists()


def test_result_sent_just_before_the_worker_dies_is_not_lost(make_executor, tmp_path) -> None:
    """A call that finished before its worker died keeps its result; the call that killed it runs once."""
    ex = make_executor(max_workers=1)
    for attempt in range(3):
        attempts = tmp_path / f"attempts-{attempt}"
        attempts.mkdir()
        finished = ex.submit(xcalls.big_result, 5_000_000)
        killer = ex.submit(xcalls.count_and_die, str(attempts))
        assert finished.exception(timeout=10) is None, f"a finished call was reported lost: {finished.exception()!r}"
        assert len(finished.result()) == 5_000_000
        assert isinstance(killer.exception(timeout=10), ExecutorlibSocketError)
        assert len(list(attempts.iterdir())) == 1, "restart_limit=0: the call that killed its worker must not rerun"


def test_restart_limit_retries_a_call_whose_worker_died(tmp_path) -> None:
    with SingleNodeExecutor(max_workers=1, block_allocation=True, restart_limit=1) as ex:
        first_pid = ex.submit(xcalls.pid).result(timeout=10)
        value, pid = ex.submit(xcalls.die_once, str(tmp_path / "died-once")).result(timeout=10)
        assert value == "survived"
        assert pid != first_pid, "the retry runs on a replacement worker"
        assert ex.submit(xcalls.worker_id).result(timeout=10) == 0, "the replacement keeps the worker id"


def test_restart_limit_bounds_the_retries(tmp_path) -> None:
    attempts = tmp_path / "attempts"
    attempts.mkdir()
    with SingleNodeExecutor(max_workers=1, block_allocation=True, restart_limit=1) as ex:
        with pytest.raises(ExecutorlibSocketError):
            ex.submit(xcalls.count_and_die, str(attempts)).result(timeout=15)
        assert ex.submit(xcalls.identity, "alive").result(timeout=10) == "alive"
    assert len(list(attempts.iterdir())) == 2, "restart_limit=1: the first attempt plus one retry"


def test_without_restart_limit_a_block_call_is_not_retried(tmp_path) -> None:
    with SingleNodeExecutor(max_workers=1, block_allocation=True) as ex:
        with pytest.raises(ExecutorlibSocketError):
            ex.submit(xcalls.die_once, str(tmp_path / "died-once")).result(timeout=10)
        assert ex.submit(xcalls.identity, "alive").result(timeout=10) == "alive"


# ---- pickling ------------------------------------------------------------------------------------------------------
def _lock_closure():
    lock = threading.Lock()
    return lambda: lock.locked()


def test_unpicklable_function_fails_at_submit(make_executor) -> None:
    ex = make_executor(max_workers=1)
    with pytest.raises(TypeError):
        ex.submit(_lock_closure())
    assert ex.submit(xcalls.identity, 1).result(timeout=10) == 1


def test_unpicklable_argument_fails_at_submit(make_executor) -> None:
    ex = make_executor(max_workers=1)
    with pytest.raises(TypeError):
        ex.submit(xcalls.identity, (i for i in range(3)))
    with pytest.raises(TypeError):
        ex.submit(xcalls.echo, key=[threading.Lock()])
    assert ex.submit(xcalls.identity, 1).result(timeout=10) == 1


@pytest.mark.parametrize("what", ["function", "argument"])
def test_unpicklable_call_fails_at_submit_even_with_a_pending_input(make_executor, what: str) -> None:
    ex = make_executor(max_workers=1)
    assert ex.submit(xcalls.identity, 0).result(timeout=10) == 0
    pending = ex.submit(xcalls.sleep_return, 1, 0.3)
    with pytest.raises(TypeError):
        if what == "function":
            ex.submit(_lock_closure(), pending)
        else:
            ex.submit(xcalls.echo, pending, (i for i in range(3)))
    assert pending.result(timeout=10) == 1


@pytest.mark.parametrize("fn", [xcalls.return_generator, xcalls.return_lock], ids=["generator", "lock"])
def test_unpicklable_result_fails_the_future_and_the_worker_survives(make_executor, mode: str, fn) -> None:
    ex = make_executor(max_workers=1)
    before = ex.submit(xcalls.worker_id_and_pid).result(timeout=10)
    future = ex.submit(fn)
    error = future.exception(timeout=10)
    assert error is not None
    assert fn.__name__ in str(error) and "pickle" in str(error)
    after = ex.submit(xcalls.worker_id_and_pid).result(timeout=10)
    if mode == "block":
        assert after == before, "the same worker (id and pid) serves the next call"
