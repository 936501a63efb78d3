"""Large payloads: NumPy arrays travel as out-of-band buffers (no copy in the pickle), in both directions, in
both modes, and every part of such a message is authenticated before anything is unpickled."""

from __future__ import annotations

import os
import pickle
import threading

import pytest
import xcalls
import zmq

from executor.channel import messages as m
from executor.channel import oob
from executor.channel.framing import TAG_SIZE, new_key, parent_framer, worker_framer
from executor.channel.parent import ParentChannel
from executor.channel.zmtp import Dealer
from executor.worker.loop import WorkerConfig, serve

numpy = pytest.importorskip("numpy", reason="numpy (the test extra) is needed for array payloads")

pytestmark = pytest.mark.timeout(120)

MB = 1_000_000


# ---- end to end ------------------------------------------------------------------------------------------------
def test_a_large_array_goes_there_and_back_writable_and_intact(make_executor) -> None:
    ex = make_executor(max_workers=1)
    x = numpy.arange(30 * MB // 8, dtype=numpy.float64)
    result = ex.submit(xcalls.add_one_in_place, x).result(timeout=60)
    assert result.shape == x.shape and result.dtype == x.dtype
    assert numpy.array_equal(result, x + 1)
    assert x[0] == 0, "the caller's array is not changed by the worker"
    assert result.flags.writeable, "a result array must be writable, as with executorlib"
    result += 1
    assert result[-1] == x[-1] + 2


def test_many_buffers_each_way_nested_small_and_fortran(make_executor) -> None:
    ex = make_executor(max_workers=1)
    rng = numpy.random.default_rng(1)
    a = rng.random(2 * MB // 8)
    b = numpy.asfortranarray(rng.random((500, 700)))
    c = rng.integers(0, 100, size=(300, 400), dtype=numpy.int32)
    small = numpy.arange(5)
    out = ex.submit(xcalls.arrays_in_and_out, a, b, c=c, small=small).result(timeout=60)
    assert out["sums"] == (float(a.sum()), float(b.sum()), float(c.sum()))
    assert numpy.array_equal(out["a2"], a * 2)
    assert numpy.array_equal(out["parts"][0], b.T) and numpy.array_equal(out["parts"][1], c)
    assert out["parts"][1].flags.f_contiguous
    assert numpy.array_equal(out["small"], small + 1)
    assert out["raw"] == bytes(200_000)


def test_same_array_in_many_calls_and_as_an_input_future(make_executor) -> None:
    ex = make_executor(max_workers=2)
    x = numpy.ones(MB // 8)
    first = ex.submit(xcalls.add_one_in_place, x)
    second = ex.submit(xcalls.add_one_in_place, first)  # the result of one call (a received frame) sent on
    sums = [ex.submit(xcalls.identity, x) for _ in range(4)]
    assert numpy.array_equal(second.result(timeout=60), x + 2)
    assert all(numpy.array_equal(f.result(timeout=60), x) for f in sums)


def test_a_large_result_is_cached_and_read_back(tmp_path) -> None:
    pytest.importorskip("h5py", reason="the cache extra (h5py) is needed")
    from executor import SingleNodeExecutor

    x = numpy.arange(MB // 8, dtype=numpy.float64)
    with SingleNodeExecutor(max_workers=1, cache_directory=str(tmp_path)) as ex:
        first = ex.submit(xcalls.add_one_in_place, x).result(timeout=60)
        hit = ex.submit(xcalls.add_one_in_place, x)
        assert hit.done(), "the second call is a cache hit"
        assert numpy.array_equal(hit.result(), first) and numpy.array_equal(first, x + 1)


def test_the_error_log_shows_a_large_argument(tmp_path) -> None:
    from executor import SingleNodeExecutor

    log = tmp_path / "errors.log"
    x = numpy.zeros(MB // 8)
    with SingleNodeExecutor(max_workers=1, resource_dict={"error_log_file": str(log)}) as ex:
        with pytest.raises(xcalls.CustomError):
            ex.submit(xcalls.raise_custom, x).result(timeout=60)
    assert "args: (array([0., 0., 0., ..., 0., 0., 0.]" in log.read_text()


# ---- the pickle format ------------------------------------------------------------------------------------------
def test_large_buffers_are_referenced_not_copied_small_ones_stay_in_band() -> None:
    big, small = numpy.ones(oob.OOB_MIN // 8 + 1), numpy.ones(16)
    body, buffers = oob.split(pickle.dumps, (big, small))
    assert len(buffers) == 1 and len(body) < 1000, "only the large array is out of band"
    view = memoryview(buffers[0])
    assert numpy.shares_memory(numpy.frombuffer(view, dtype=big.dtype), big), "no copy was made"
    assert oob.size((body, buffers)) == len(body) + big.nbytes
    assert oob.split(pickle.dumps, small) == pickle.dumps(small, protocol=5), "no large buffer: plain bytes"
    again = oob.loads(oob.in_band((body, buffers)))
    assert numpy.array_equal(again[0], big) and numpy.array_equal(again[1], small)


# ---- every part is authenticated --------------------------------------------------------------------------------
def _tamperings(first: bytes, parts: list[bytes]) -> list[tuple[str, bytes, list[bytes]]]:
    flipped = bytearray(parts[1])
    flipped[len(flipped) // 2] ^= 1
    moved = [parts[0] + parts[1][:1], parts[1][1:]]  # one byte moved from one part to the next
    return [
        ("a bit of a buffer", first, [parts[0], bytes(flipped)]),
        ("a byte moved between parts", first, moved),
        ("a part dropped", first, parts[:1]),
        ("a part added", first, [*parts, b"x" * 10]),
        ("parts swapped", first, parts[::-1]),
        ("the body", first[:TAG_SIZE] + first[TAG_SIZE:-1] + b".", parts),
        ("the single-frame tag", parent_framer(KEY).seal(first[TAG_SIZE:]), parts),
    ]


KEY = new_key()


@pytest.mark.parametrize("index", range(7))
def test_a_tampered_part_fails_the_tag(index: int) -> None:
    parts = [os.urandom(100_000), os.urandom(70_000)]
    first = parent_framer(KEY).seal_parts(b"body", parts)
    assert worker_framer(KEY).open_parts(first, parts) == b"body"
    what, tampered_first, tampered_parts = _tamperings(first, parts)[index]
    assert worker_framer(KEY).open_parts(tampered_first, tampered_parts) is None, what
    assert parent_framer(KEY).open_parts(first, parts) is None, "the direction is part of the tag"


@pytest.mark.parametrize("tamper", [False, True])
def test_the_worker_unpickles_a_multi_part_message_only_if_every_part_is_authentic(tmp_path, tamper: bool) -> None:
    """A fake parent sends a CALLS message of several parts; with one byte of a buffer changed, the worker drops
    it without unpickling it (no marker) and still obeys the next authentic message."""
    marker = str(tmp_path / "unpickled")
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    framer = parent_framer(KEY)
    identity = b"w-test"
    config = WorkerConfig(f"tcp://127.0.0.1:{port}", identity, KEY, one_shot=False)
    worker = threading.Thread(target=serve, args=(config,), daemon=True)
    worker.start()
    try:
        assert router.poll(10_000), "the worker did not say hello"
        router.recv_multipart()  # HELLO
        body = pickle.dumps((m.CALLS, [], xcalls.MarkerPayload(marker)), protocol=5)  # unpickling creates marker
        parts = [os.urandom(oob.OOB_MIN)]
        first = framer.seal_parts(body, parts)
        if tamper:
            parts = [bytes([parts[0][0] ^ 1]) + parts[0][1:]]
        router.send_multipart([identity, first, *parts])
        router.send_multipart([identity, framer.seal(pickle.dumps((m.STOP,), protocol=5))])
        worker.join(10)
        assert not worker.is_alive(), "the worker did not obey STOP"
    finally:
        router.close()
        context.term()
    assert os.path.exists(marker) is (not tamper)


def test_the_parent_drops_a_result_with_a_tampered_part_without_unpickling(tmp_path) -> None:
    marker = str(tmp_path / "unpickled")
    channel = ParentChannel(KEY)
    dealer = Dealer(channel.address, b"w-test")
    try:
        framer = worker_framer(KEY)
        hostile = pickle.dumps((m.RESULT, 1, True, xcalls.MarkerPayload(marker)), protocol=5)
        parts = [os.urandom(oob.OOB_MIN), os.urandom(oob.OOB_MIN)]
        first = framer.seal_parts(hostile, parts)
        dealer.send_parts([first, parts[0], parts[1][:-1] + bytes([parts[1][-1] ^ 1])])
        dealer.send_parts([framer.seal_parts(pickle.dumps((m.HELLO, 7), protocol=5), parts), *parts])
        got: list = []
        while not got:
            assert channel.socket.poll(10_000), "nothing arrived"
            got = channel.receive()
        assert got == [(b"w-test", (m.HELLO, 7))], "the authentic message arrives, the tampered one does not"
        assert channel.rejected == 1
    finally:
        dealer.close()
        channel.close()
    assert not os.path.exists(marker)
