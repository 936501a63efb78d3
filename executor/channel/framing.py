"""Authenticated message frames.

Every message between the parent and a worker is two ZeroMQ frames ``[tag, body]``: ``body`` is a pickle and
``tag`` a keyed BLAKE2b MAC of the body under the executor's secret.  The receiver checks the tag with a
constant-time comparison *before* it unpickles anything, so a process that connects to the port without the
secret can never get a pickle loaded.  The direction is part of the MAC (``person``), so a frame sent to a worker
cannot be reflected back to the parent as if a worker had sent it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

TAG_SIZE = 16  # 128-bit tags: forging one is out of reach, and they stay small on the wire
KEY_SIZE = 32
TO_WORKER = b"xlib-to-worker"
TO_PARENT = b"xlib-to-parent"


def new_key() -> bytes:
    """A fresh random secret for one executor."""
    return secrets.token_bytes(KEY_SIZE)


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
        return hashlib.blake2b(body, key=self._key, digest_size=TAG_SIZE, person=person).digest()

    def seal(self, body: bytes) -> list[bytes]:
        """Return the frames ``[tag, body]`` to send."""
        return [self._tag(body, self._send_person), body]

    def open(self, frames: Sequence[bytes]) -> bytes | None:
        """Return the body if ``frames`` is a well-formed, authentic message, else ``None``."""
        if len(frames) != 2:
            return None
        tag, body = frames
        if len(tag) != TAG_SIZE:
            return None
        if not hmac.compare_digest(tag, self._tag(body, self._recv_person)):
            return None
        return bytes(body)


def parent_framer(key: bytes) -> Framer:
    return Framer(key, send=TO_WORKER, receive=TO_PARENT)


def worker_framer(key: bytes) -> Framer:
    return Framer(key, send=TO_PARENT, receive=TO_WORKER)
