"""Worker end of the channel: a ZeroMQ DEALER speaking ZMTP 3.0 (NULL mechanism) over a plain TCP socket.

Why not pyzmq here: importing pyzmq costs ~27 ms (measured on the 2-core CI machine), more than the whole
interpreter start, and every cold worker would pay it before its first call.  The parent keeps a real libzmq
ROUTER socket; workers only need the small client half of the wire protocol (ZMTP 3.0, RFC 23/ZMTP and
RFC 37/ZMTP 3.1, which libzmq speaks): a 64-byte greeting, one READY command each way, then length-prefixed
frames.  Authentication is unchanged: each frame carries the MAC from ``framing``.

Only what a DEALER talking to our ROUTER needs is implemented: messages of one or more frames in both
directions, PING answered with PONG, other commands ignored, and an orderly close that lets the last result
reach the parent.  Large frames (out-of-band buffers: ``executor.channel.oob``) are read straight into a
``bytearray`` of their size (``recv_into``, no intermediate copies; the worker then rebuilds arrays over it) and
sent with one ``sendmsg`` of the headers and the caller's buffers (no join).
"""

from __future__ import annotations

import struct

# The C module, not ``socket``: the wrapper builds IntEnums at import (~3 ms with ``enum``) that we never use.
import _socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_GREETING = b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\x00") + b"\x00" + b"\x00" * 31
_MORE, _LONG, _COMMAND = 0x01, 0x02, 0x04
_LONG_SIZE = struct.Struct("!Q")
_PROPERTY_SIZE = struct.Struct("!I")
# How long a closing worker waits for the parent to acknowledge the end of the stream (its last result is in
# the kernel's buffers by then; waiting avoids a reset that could discard it).
_CLOSE_TIMEOUT = 2.0
# Frames of at least this size are read into a buffer of their own instead of through the read buffer.
_DIRECT = 1 << 16
_IOV_MAX = 512  # vectors per sendmsg (Linux allows 1024)


class ProtocolError(ConnectionError):
    """The peer did not speak ZMTP 3 with the NULL mechanism as a ROUTER."""


def _header(flags: int, size: int) -> bytes:
    if size > 255:
        return bytes((flags | _LONG,)) + _LONG_SIZE.pack(size)
    return bytes((flags, size))


def _frame(flags: int, body: bytes) -> bytes:
    return _header(flags, len(body)) + body


def _command(name: bytes, properties: dict[bytes, bytes]) -> bytes:
    body = bytes((len(name),)) + name
    for key, value in properties.items():
        body += bytes((len(key),)) + key + _PROPERTY_SIZE.pack(len(value)) + value
    return _frame(_COMMAND, body)


def _connect(endpoint: tuple[str, int], timeout: float) -> _socket.socket:
    """``socket.create_connection`` on the C module: try each address the host resolves to.

    A numeric IPv4 address (the loopback address of every local worker) is used as is: the first
    ``getaddrinfo`` call in a fresh process loads the resolver's modules, several ms on every worker's path.
    """
    host, port = endpoint
    if host.count(".") == 3 and host.replace(".", "").isdigit():
        candidates = [(_socket.AF_INET, _socket.SOCK_STREAM, 0, "", endpoint)]
    else:
        candidates = _socket.getaddrinfo(host, port, 0, _socket.SOCK_STREAM)
    error: OSError | None = None
    for family, kind, proto, _, sockaddr in candidates:
        sock = _socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            return sock
        except OSError as failure:
            sock.close()
            error = failure
    raise error or OSError(f"cannot resolve {endpoint[0]!r}")


def parse_tcp(address: str) -> tuple[str, int]:
    if not address.startswith("tcp://"):
        raise ValueError(f"only tcp:// addresses are supported, got {address!r}")
    host, _, port = address[len("tcp://") :].rpartition(":")
    return host.strip("[]"), int(port)


class Dealer:
    """A connected DEALER: ``send(bytes)``, ``recv() -> bytes``, ``close()``."""

    def __init__(self, address: str, identity: bytes, timeout: float = 30.0) -> None:
        if not 0 < len(identity) <= 255 or identity[0] == 0:
            raise ValueError("a ZMTP identity is 1..255 bytes and must not start with a zero byte")
        self._sock = _connect(parse_tcp(address), timeout)
        self._buffer = bytearray()
        self._sock.sendall(_GREETING + _command(b"READY", {b"Socket-Type": b"DEALER", b"Identity": identity}))
        greeting = self._exact(64)
        if greeting[0] != 0xFF or greeting[9] & 0x01 != 0x01 or greeting[10] < 3:
            raise ProtocolError(f"{address} did not answer with a ZMTP 3 greeting")
        if greeting[12:32].rstrip(b"\x00") != b"NULL":
            raise ProtocolError(f"{address} asks for security mechanism {greeting[12:32].rstrip(bytes(1))!r}, not NULL")
        flags, body = self._frame()
        if not flags & _COMMAND or body[1 : 1 + body[0]] != b"READY":
            raise ProtocolError(f"{address} did not send READY: {bytes(body[:32])!r}")
        self._sock.settimeout(None)  # from here on the worker waits for work as long as the parent lives

    def _fill(self, n: int) -> None:
        while len(self._buffer) < n:
            chunk = self._sock.recv(max(65536, n - len(self._buffer)))
            if not chunk:
                raise ConnectionResetError("the parent closed the connection")
            self._buffer += chunk

    def _exact(self, n: int) -> bytes:
        self._fill(n)
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def _direct(self, size: int) -> bytearray:
        """``size`` bytes read into a buffer of their own: what the read buffer holds, then ``recv_into``."""
        out = bytearray(size)
        view = memoryview(out)
        have = min(size, len(self._buffer))
        view[:have] = self._buffer[:have]
        del self._buffer[:have]
        while have < size:
            got = self._sock.recv_into(view[have:])
            if not got:
                raise ConnectionResetError("the parent closed the connection")
            have += got
        return out

    def _frame(self) -> tuple[int, bytes | bytearray]:
        flags = self._exact(1)[0]
        size = _LONG_SIZE.unpack(self._exact(8))[0] if flags & _LONG else self._exact(1)[0]
        return flags, (self._direct(size) if size >= _DIRECT else self._exact(size))

    def recv_message(self) -> list[bytes | bytearray]:
        """The next message: its frames (large ones as writable ``bytearray``)."""
        parts: list[bytes | bytearray] = []
        while True:
            flags, body = self._frame()
            if flags & _COMMAND:
                name_end = 1 + body[0]
                if body[1:name_end] == b"PING":  # heartbeat (only if the parent enables them): PONG + context
                    self._sock.sendall(_frame(_COMMAND, b"\x04PONG" + bytes(body[name_end + 2 :])))
                continue
            parts.append(body)
            if not flags & _MORE:
                return parts

    def recv(self) -> bytes:
        """The next message (its frames joined)."""
        parts = self.recv_message()
        return bytes(parts[0]) if len(parts) == 1 else b"".join(parts)

    def send(self, data: bytes) -> None:
        self._sock.sendall(_frame(0, data))

    def send_parts(self, parts: list[Any]) -> None:
        """Send one message of several frames; ``parts`` (bytes or 1-D byte views such as ``PickleBuffer.raw()``)
        are sent from where they are, not copied."""
        vectors: list[Any] = []
        last = len(parts) - 1
        for i, part in enumerate(parts):
            view = memoryview(part)
            vectors += (_header(0 if i == last else _MORE, view.nbytes), view)
        while vectors:
            sent = self._sock.sendmsg(vectors[:_IOV_MAX])
            while vectors and sent >= len(vectors[0]):  # drop what went out, keep the rest of a partial send
                sent -= len(vectors.pop(0))
            if sent:
                vectors[0] = memoryview(vectors[0])[sent:]

    def close(self) -> None:
        """Half-close, wait (bounded) for the parent to close its side, then close: no data is lost to a reset."""
        try:
            self._sock.shutdown(_socket.SHUT_WR)
            self._sock.settimeout(_CLOSE_TIMEOUT)
            while self._sock.recv(65536):
                pass
        except OSError:
            pass
        finally:
            self._sock.close()
