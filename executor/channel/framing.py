"""Authenticated message frames.

Every message between the parent and a worker is one ZeroMQ frame ``tag + body``: ``body`` is a pickle and
``tag`` (16 bytes) a keyed BLAKE2b MAC of the body under the executor's secret.  (One frame, not two: pyzmq's
single-frame ``recv`` costs a sixth of ``recv_multipart``, and this is paid per call.)  The receiver checks the tag with a
constant-time comparison *before* it unpickles anything, so a process that connects to the port without the
secret can never get a pickle loaded.  The direction is part of the MAC (``person``), so a frame sent to a worker
cannot be reflected back to the parent as if a worker had sent it.

A message with out-of-band buffers (``executor.channel.oob``: large NumPy arrays) is several frames:
``tag + body``, then one frame per buffer.  Its tag covers every part: the body and each buffer, each preceded
by its length (so bytes cannot move from one part to the next), under a ``person`` of its own (so a one-frame
tag never validates a multi-part message).  The receiver checks it over all parts before unpickling anything.
"""

from __future__ import annotations

import os
import struct
from _operator import _compare_digest as compare_digest  # what hmac.compare_digest is, without importing hmac

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

try:  # the built-in module: importing hashlib would load OpenSSL (~4 ms in every worker)
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - CPython always has it
    from hashlib import blake2b

TAG_SIZE = 16  # 128-bit tags: forging one is out of reach, and they stay small on the wire
KEY_SIZE = 32
TO_WORKER = b"xlib-to-worker"
TO_PARENT = b"xlib-to-parent"
_PARTS = b"-m"  # person suffix of multi-part messages (persons are at most 16 bytes)
_LENGTH = struct.Struct("!Q")


def new_key() -> bytes:
    """A fresh random secret for one executor."""
    return os.urandom(KEY_SIZE)  # the OS CSPRNG, as secrets.token_bytes uses


class Framer:
    """Seal outgoing bodies and open incoming frames for one direction pair."""

    __slots__ = ("_key", "_send_person", "_recv_person")

    # Parts of a multi-part message: anything with the buffer protocol (bytes, bytearray, memoryview, zmq.Frame).

    def __init__(self, key: bytes, *, send: bytes, receive: bytes) -> None:
        if len(key) != KEY_SIZE:
            raise ValueError(f"the channel key must be {KEY_SIZE} bytes, got {len(key)}")
        self._key = key
        self._send_person = send
        self._recv_person = receive

    def _tag(self, body: bytes, person: bytes) -> bytes:
        return blake2b(body, key=self._key, digest_size=TAG_SIZE, person=person).digest()

    def seal(self, body: bytes) -> bytes:
        """Return the frame ``tag + body`` to send."""
        return self._tag(body, self._send_person) + body

    def open(self, frame: bytes) -> bytes | None:
        """Return the body if ``frame`` is an authentic message, else ``None`` (it must then not be unpickled)."""
        body = frame[TAG_SIZE:]
        if len(frame) < TAG_SIZE or not compare_digest(frame[:TAG_SIZE], self._tag(body, self._recv_person)):
            return None
        return body


    def _parts_tag(self, body: bytes, parts: list[Any], person: bytes) -> bytes:
        mac = blake2b(key=self._key, digest_size=TAG_SIZE, person=person + _PARTS)
        mac.update(_LENGTH.pack(len(body)))
        mac.update(body)
        for part in parts:
            mac.update(_LENGTH.pack(memoryview(part).nbytes))
            mac.update(part)  # releases the GIL for large buffers
        return mac.digest()

    def seal_parts(self, body: bytes, parts: list[Any]) -> bytes:
        """Return the first frame ``tag + body`` of a message whose other frames are ``parts`` (sent as they are)."""
        return self._parts_tag(body, parts, self._send_person) + body

    def open_parts(self, first: bytes, parts: list[Any]) -> bytes | None:
        """Return the body if ``first`` + ``parts`` are an authentic multi-part message, else ``None``."""
        body = first[TAG_SIZE:]
        if len(first) < TAG_SIZE or not compare_digest(first[:TAG_SIZE], self._parts_tag(body, parts, self._recv_person)):
            return None
        return body


def parent_framer(key: bytes) -> Framer:
    return Framer(key, send=TO_WORKER, receive=TO_PARENT)


def worker_framer(key: bytes) -> Framer:
    return Framer(key, send=TO_PARENT, receive=TO_WORKER)
