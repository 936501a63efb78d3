"""Parent side of the worker channel: one ZeroMQ ROUTER socket per executor.

Layer: channel.  Workers connect with a random identity; the socket is bound to the loopback interface unless
the launch policy says workers run on other hosts (``remote_workers``, e.g. srun across nodes): then it is bound
to the address this host's name resolves to, and workers connect through the host name.  ``receive()`` silently
drops any message that fails authentication (see ``framing``), so a foreign connection can neither get a pickle
loaded nor stall the real traffic.

Large buffers (``executor.channel.oob``) are never copied here: ``send`` hands them to libzmq as frames of their
own with ``copy=False`` (libzmq sends from the caller's memory and releases it when sent); ``receive`` takes
them as ``zmq.Frame`` objects (libzmq read them straight into their own buffer) and unpickles over those, so a
NumPy result is an array over the received frame, writable, with no further copy.
"""

from __future__ import annotations

import pickle
import socket
from typing import Any

import zmq

from executor.channel.framing import parent_framer

LOOPBACK = "127.0.0.1"
# Plain ints: pyzmq converts enum flags on every call, which costs more than the send itself.
_NOBLOCK = int(zmq.NOBLOCK)
_SNDMORE = int(zmq.SNDMORE)
_RCVMORE = int(zmq.RCVMORE)


def bind_host(remote_workers: bool, hostname_localhost: bool) -> tuple[str, str]:
    """Return ``(bind address, host workers connect to)``.

    Local workers always use loopback.  Workers on other hosts (srun/flux across nodes) need an interface they
    can reach: the address this host's name resolves to, unless ``hostname_localhost`` asks for loopback.  Where
    the name resolves to a loopback address (Debian's ``127.0.1.1`` entry in /etc/hosts), no single interface
    is known to be reachable, so the socket listens on all of them (every frame is still authenticated).
    """
    if not remote_workers or hostname_localhost:
        return LOOPBACK, LOOPBACK
    name = socket.gethostname()
    address = socket.gethostbyname(name)
    return ("0.0.0.0" if address.startswith("127.") else address), name


class ParentChannel:
    """The executor's ROUTER socket; used only from the scheduler thread."""

    def __init__(self, key: bytes, *, remote_workers: bool = False, hostname_localhost: bool = True) -> None:
        self._framer = parent_framer(key)
        self._context = zmq.Context(io_threads=1)
        self.socket = self._context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        # Fail loudly (EHOSTUNREACH) instead of dropping a message for a worker that is gone.
        self.socket.setsockopt(zmq.ROUTER_MANDATORY, 1)
        bind, connect = bind_host(remote_workers, hostname_localhost)
        port = self.socket.bind_to_random_port(f"tcp://{bind}")
        self.address = f"tcp://{connect}:{port}"
        self.rejected = 0  # frames dropped because they were not authentic

    def send(self, identity: bytes, message: Any) -> bool:
        """Send ``message`` to one worker; ``False`` if that worker is no longer connected."""
        buffers: list[pickle.PickleBuffer] = []  # large buffers of the calls' payloads (oob), sent as they are
        body = pickle.dumps(message, protocol=5, buffer_callback=buffers.append)
        try:
            self.socket.send(identity, _SNDMORE)
            if not buffers:
                frame = self._framer.seal(body)
                self.socket.send(frame, copy=len(frame) < 65536)
            else:
                views = [buffer.raw() for buffer in buffers]
                self.socket.send(self._framer.seal_parts(body, views), _SNDMORE)
                for view in views[:-1]:
                    self.socket.send(view, _SNDMORE, copy=False)
                self.socket.send(views[-1], copy=False)
        except zmq.ZMQError as error:
            if error.errno == zmq.EHOSTUNREACH:
                return False
            raise
        return True

    def receive(self) -> list[tuple[bytes, Any]]:
        """Drain all waiting messages without blocking; return ``[(identity, message), ...]``."""
        out = []
        recv, more, open_ = self.socket.recv, self.socket.get, self._framer.open
        while True:
            try:
                identity = recv(_NOBLOCK)
            except zmq.Again:
                return out
            first = recv(_NOBLOCK)  # a ROUTER message always has a frame after the identity
            if not more(_RCVMORE):
                body = open_(first)
                if body is None:
                    self.rejected += 1
                    continue
                out.append((identity, pickle.loads(body)))
                continue
            parts = []  # out-of-band buffers: zero-copy frames, checked with the body before anything is loaded
            while more(_RCVMORE):
                parts.append(memoryview(recv(_NOBLOCK, copy=False)))
            body = self._framer.open_parts(first, parts)
            if body is None:
                self.rejected += 1
                continue
            out.append((identity, pickle.loads(body, buffers=parts)))

    def close(self) -> None:
        self.socket.close(linger=0)
        self._context.term()
