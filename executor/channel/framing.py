"""Authenticated message frames.

Every message between the parent and a worker is one ZeroMQ frame ``tag + body``: ``body`` is a pickle and
``tag`` (16 bytes) a keyed BLAKE2b MAC of the body under the executor's secret.  (One frame, not two: pyzmq's
single-frame ``recv`` costs a sixth of ``recv_multipart``, and this is paid per call.)  The receiver checks the tag with a
constant-time comparison *before* it unpickles anything, so a process that connects to the port without the
secret can never get a pickle loaded.  The direction is part of the MAC (``person``), so a frame sent to a worker
cannot be reflected back to the parent as if a worker had sent it.
"""

from __future__ import annotations

import os
from _operator import _compare_digest as compare_digest  # what hmac.compare_digest is, without importing hmac

try:  # the built-in module: importing hashlib would load OpenSSL (~4 ms in every worker)
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - CPython always has it
    from hashlib import blake2b

TAG_SIZE = 16  # 128-bit tags: forging one is out of reach, and they stay small on the wire
KEY_SIZE = 32
TO_WORKER = b"xlib-to-worker"
TO_PARENT = b"xlib-to-parent"


def new_key() -> bytes:
    """A fresh random secret for one executor."""
    return os.urandom(KEY_SIZE)  # the OS CSPRNG, as secrets.token_bytes uses


class Framer:
    """Seal outgoing bodies and open incoming frames for one direction pair."""

    __slots__ = ("_key", "_send_person", "_recv_person")

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


def parent_framer(key: bytes) -> Framer:
    return Framer(key, send=TO_WORKER, receive=TO_PARENT)


def worker_framer(key: bytes) -> Framer:
    return Framer(key, send=TO_PARENT, receive=TO_WORKER)
