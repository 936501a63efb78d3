"""Parent side of the worker channel: one ZeroMQ ROUTER socket per executor.

Workers connect with a random identity; the socket is bound to the loopback interface unless a launcher needs
workers on other hosts.  ``receive()`` silently drops any frame that fails authentication (see ``framing``), so a
foreign connection can neither get a pickle loaded nor stall the real traffic.
"""

from __future__ import annotations

import pickle
import socket
from typing import Any

import zmq

from executor.channel.framing import parent_framer

LOOPBACK = "127.0.0.1"


def bind_host(remote_workers: bool, hostname_localhost: bool) -> tuple[str, str]:
    """Return ``(bind address, address workers connect to)``.

    Local workers always use loopback.  Workers on other hosts (srun/flux across nodes) need an interface they
    can reach: the address this host's name resolves to, unless ``hostname_localhost`` asks for loopback.
    """
    if not remote_workers or hostname_localhost:
        return LOOPBACK, LOOPBACK
    name = socket.gethostname()
    return socket.gethostbyname(name), name


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
        body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.socket.send_multipart([identity, *self._framer.seal(body)], copy=len(body) < 65536)
        except zmq.ZMQError as error:
            if error.errno == zmq.EHOSTUNREACH:
                return False
            raise
        return True

    def receive(self) -> list[tuple[bytes, Any]]:
        """Drain all waiting messages without blocking; return ``[(identity, message), ...]``."""
        out = []
        recv = self.socket.recv_multipart
        while True:
            try:
                frames = recv(zmq.NOBLOCK)
            except zmq.Again:
                return out
            body = self._framer.open(frames[1:]) if len(frames) == 3 else None
            if body is None:
                self.rejected += 1
                continue
            out.append((frames[0], pickle.loads(body)))

    def close(self) -> None:
        self.socket.close(linger=0)
        self._context.term()
