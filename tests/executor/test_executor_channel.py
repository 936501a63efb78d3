"""The worker channel: authenticated framing, loopback only, no secret where other users can read it."""

from __future__ import annotations

import base64
import os
import pickle

import pytest
import zmq
from hypothesis import given, settings
from hypothesis import strategies as st

import xcalls
import xprocs
from executor.channel.framing import KEY_SIZE, TAG_SIZE, Framer, parent_framer, worker_framer

pytestmark = pytest.mark.timeout(30)

keys = st.binary(min_size=KEY_SIZE, max_size=KEY_SIZE)
bodies = st.binary(max_size=2048)
directions = st.sampled_from(["to_worker", "to_parent"])
_fast = settings(max_examples=200, deadline=None, database=None)


def _pair(key: bytes, direction: str) -> tuple[Framer, Framer]:
    """``(sender, receiver)`` for one direction."""
    if direction == "to_worker":
        return parent_framer(key), worker_framer(key)
    return worker_framer(key), parent_framer(key)


# ---- framing --------------------------------------------------------------------------------------------------
# A message is one frame ``tag + body`` (``seal``); ``open`` returns the body only for an authentic frame.
@_fast
@given(keys, bodies, directions)
def test_seal_then_open_round_trips_any_bytes(key, body, direction) -> None:
    sender, receiver = _pair(key, direction)
    frame = sender.seal(body)
    assert frame != body, "the frame must carry a tag"
    assert bytes(receiver.open(frame)) == body


@_fast
@given(keys, bodies, directions, st.data())
def test_tampered_tag_is_rejected(key, body, direction, data) -> None:
    sender, receiver = _pair(key, direction)
    frame = bytearray(sender.seal(body))
    index = data.draw(st.integers(0, TAG_SIZE - 1))
    frame[index] ^= 1 << data.draw(st.integers(0, 7))
    assert receiver.open(bytes(frame)) is None


@_fast
@given(keys, bodies, directions, st.data())
def test_tampered_body_is_rejected(key, body, direction, data) -> None:
    sender, receiver = _pair(key, direction)
    frame = sender.seal(body)
    tag = frame[:TAG_SIZE]
    choice = data.draw(st.sampled_from(["flip", "append", "truncate", "replace"]))
    if choice == "flip" and body:
        index = data.draw(st.integers(0, len(body) - 1))
        changed = bytearray(body)
        changed[index] ^= 1 << data.draw(st.integers(0, 7))
        changed = bytes(changed)
    elif choice == "truncate" and body:
        changed = body[: data.draw(st.integers(0, len(body) - 1))]
    elif choice == "replace":
        changed = data.draw(bodies.filter(lambda b: b != body))
    else:
        changed = body + data.draw(st.binary(min_size=1, max_size=8))
    assert changed != body
    assert receiver.open(tag + changed) is None


@_fast
@given(keys, keys, bodies, directions)
def test_wrong_key_is_rejected(key, other, body, direction) -> None:
    if key == other:
        return
    sender, _ = _pair(key, direction)
    _, receiver = _pair(other, direction)
    assert receiver.open(sender.seal(body)) is None


@_fast
@given(keys, bodies)
def test_wrong_direction_is_rejected(key, body) -> None:
    parent, worker = parent_framer(key), worker_framer(key)
    assert parent.open(parent.seal(body)) is None, "a frame sent to a worker cannot be reflected to the parent"
    assert worker.open(worker.seal(body)) is None, "a frame from a worker cannot be replayed to a worker"


@_fast
@given(keys, bodies, bodies, directions, st.data())
def test_joined_or_split_frames_are_rejected(key, body, other, direction, data) -> None:
    sender, receiver = _pair(key, direction)
    frame, second = sender.seal(body), sender.seal(other)
    assert receiver.open(frame + second) is None, "two messages joined are not one message"
    cut = data.draw(st.integers(0, len(frame) - 1))
    assert receiver.open(frame[:cut]) is None, "a message cut short is rejected"
    if cut:
        assert receiver.open(frame[cut:]) is None, "the tail of a message is rejected"


@_fast
@given(keys, st.binary(max_size=256), directions)
def test_arbitrary_bytes_are_rejected(key, frame, direction) -> None:
    _, receiver = _pair(key, direction)
    assert receiver.open(frame) is None


def test_framer_needs_a_full_length_key() -> None:
    with pytest.raises(ValueError):
        parent_framer(b"short")


# ---- end to end -----------------------------------------------------------------------------------------------
def _hostile_messages(marker: str, secret: bytes) -> list[list[bytes]]:
    """What an attacker who reaches the port might send: each would create ``marker`` if unpickled.

    The last ones carry a tag made with the real secret but break the message format (extra frames, the other
    direction), so they also prove that the format, not only the tag, is checked before unpickling.
    """
    payload = pickle.dumps(xcalls.MarkerPayload(marker))
    as_result = pickle.dumps((b"R", 1, True, payload))
    as_hello = pickle.dumps((b"H", xcalls.MarkerPayload(marker)))
    authentic = worker_framer(secret).seal(payload)
    return [
        [payload],
        [b"\0" * TAG_SIZE + payload],
        [os.urandom(TAG_SIZE) + as_result],
        [os.urandom(TAG_SIZE) + as_hello],
        [payload[:TAG_SIZE]],
        [os.urandom(TAG_SIZE), payload],
        [b""],
        [authentic, b"extra"],
        [b"extra", authentic],
        [authentic, authentic],
        [parent_framer(secret).seal(payload)],
    ]


def test_foreign_connection_never_gets_a_pickle_loaded_nor_stalls_work(make_executor, tmp_path) -> None:
    ex = make_executor(max_workers=2)
    marker = str(tmp_path / "attacker-was-here")
    before = [ex.submit(xcalls.sleep_return, i, 0.2) for i in range(3)]
    context = zmq.Context()
    intruder = context.socket(zmq.DEALER)
    intruder.setsockopt(zmq.LINGER, 0)
    intruder.connect(xprocs.channel_address(ex))
    try:
        sent = 0
        for _ in range(50):
            for frames in _hostile_messages(marker, xprocs.channel_secret(ex)):
                intruder.send_multipart(frames)
                sent += 1
        after = [ex.submit(xcalls.add, i, 1) for i in range(3)]
        assert [f.result(timeout=10) for f in before] == [0, 1, 2]
        assert [f.result(timeout=10) for f in after] == [1, 2, 3]
        assert xprocs.eventually(lambda: xprocs.rejected_frames(ex) >= sent, timeout=5), (
            "the hostile frames must have reached the executor (else this test proves nothing)"
        )
        assert list(ex.map(xcalls.identity, range(4))) == [0, 1, 2, 3]
    finally:
        intruder.close()
        context.term()
    assert not os.path.exists(marker), "a frame without a valid tag was unpickled"


def _listening_sockets(port: int) -> list[str]:
    """Local addresses (as in /proc/net/tcp*) of listening sockets on ``port``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if int(port_hex, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.append(address)
    return found


@pytest.mark.parametrize("hostname_localhost", [None, False, True])
def test_channel_is_bound_to_loopback_only(make_executor, hostname_localhost) -> None:
    ex = make_executor(max_workers=1, hostname_localhost=hostname_localhost)
    address = xprocs.channel_address(ex)
    assert address.startswith("tcp://127.0.0.1:")
    port = int(address.rsplit(":", 1)[1])
    assert _listening_sockets(port) == ["0100007F"], "the port must listen on 127.0.0.1 and nowhere else"
    assert ex.submit(xcalls.identity, 1).result(timeout=10) == 1


def _encodings(secret: bytes) -> list[bytes]:
    b64 = base64.b64encode(secret)
    urlsafe = base64.urlsafe_b64encode(secret)
    return [
        secret, secret.hex().encode(), secret.hex().upper().encode(), b64, b64.rstrip(b"="), urlsafe,
        urlsafe.rstrip(b"="), base64.b32encode(secret), base64.b85encode(secret),
    ]  # fmt: skip


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def test_secret_is_not_on_command_lines_or_in_environments(make_executor, mode, tmp_path) -> None:
    ex = make_executor(max_workers=2)
    secret = xprocs.channel_secret(ex)
    release = tmp_path / "release"
    pids_dir = tmp_path / "pids"
    pids_dir.mkdir()
    running = ex.submit(xcalls.pid_to_file_then_wait, str(pids_dir), str(release))
    server = xprocs.fork_server_pid(ex)
    try:
        assert xprocs.eventually(lambda: len(list(pids_dir.iterdir())) == 1)
        worker_pid = int(next(pids_dir.iterdir()).name.split("-")[1])
        if mode == "block":
            assert xprocs.eventually(lambda: len(xprocs.children(server)) == 2)
        pids = {server, worker_pid, *xprocs.children(server)}
        assert len(pids) >= (3 if mode == "block" else 2)
        for pid in pids:
            for kind in ("cmdline", "environ"):
                exposed = _read(f"/proc/{pid}/{kind}")
                for encoded in _encodings(secret):
                    assert encoded not in exposed, f"the channel secret is in /proc/{pid}/{kind}"
    finally:
        release.touch()
    assert running.result(timeout=10) == worker_pid
    environment = ex.submit(xcalls.environment).result(timeout=10)
    text = "\0".join(f"{k}={v}" for k, v in environment.items()).encode()
    for encoded in _encodings(secret):
        assert encoded not in text, "the channel secret is in a worker's os.environ"


def test_the_hostile_payload_really_creates_the_marker_when_unpickled(tmp_path) -> None:
    """Control for the test above: unpickling the payload does create the marker."""
    marker = tmp_path / "marker"
    pickle.loads(pickle.dumps(xcalls.MarkerPayload(str(marker))))
    assert marker.is_dir()


def test_raw_tcp_garbage_and_idle_connections_do_not_stall_work(make_executor) -> None:
    import socket

    ex = make_executor(max_workers=2)
    host, port = xprocs.channel_address(ex)[len("tcp://") :].rsplit(":", 1)
    idle = socket.create_connection((host, int(port)))  # connects, never speaks
    garbage = socket.create_connection((host, int(port)))
    half = socket.create_connection((host, int(port)))
    try:
        garbage.sendall(os.urandom(4096))
        half.sendall(b"\xff" + b"\x00" * 8 + b"\x7f")  # the start of a ZMTP greeting, then silence
        assert list(ex.map(xcalls.add, range(6), range(6))) == [0, 2, 4, 6, 8, 10]
        assert ex.submit(xcalls.sleep_return, "ok", 0.1).result(timeout=10) == "ok"
    finally:
        for sock in (idle, garbage, half):
            sock.close()


# ---- workers on other hosts (srun, flux across nodes) ------------------------------------------------------------
@pytest.mark.parametrize(
    ("resolved", "bound"), [("10.1.2.3", "10.1.2.3"), ("127.0.1.1", "0.0.0.0")], ids=["routable", "debian-hosts"]
)
def test_remote_workers_bind_to_an_address_other_hosts_can_reach(monkeypatch, resolved, bound) -> None:
    from executor.channel import parent

    monkeypatch.setattr(parent.socket, "gethostname", lambda: "node7")
    monkeypatch.setattr(parent.socket, "gethostbyname", lambda name: resolved if name == "node7" else "?")
    assert parent.bind_host(remote_workers=True, hostname_localhost=False) == (bound, "node7")
    assert parent.bind_host(remote_workers=True, hostname_localhost=True) == ("127.0.0.1", "127.0.0.1")
    assert parent.bind_host(remote_workers=False, hostname_localhost=False) == ("127.0.0.1", "127.0.0.1")

