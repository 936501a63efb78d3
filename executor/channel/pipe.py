"""Length-prefixed pickles over an anonymous pipe (parent <-> fork server).

The pipe is private to the two processes (nobody else holds its file descriptors), so it needs no MAC; the
worker channel proper is the authenticated ZeroMQ socket.
"""

from __future__ import annotations

import os
# The C module: ``pickle.py`` adds ~3 ms of imports to every worker and we only need loads/dumps.
import _pickle as pickle
import struct
TYPE_CHECKING = False

if TYPE_CHECKING:  # typing costs every worker ~4 ms at start-up; annotations are strings anyway
    from typing import Any

_HEADER = struct.Struct("!I")


def write_message(fd: int, message: Any) -> None:
    body = pickle.dumps(message, protocol=5)
    view = memoryview(_HEADER.pack(len(body)) + body)
    while view:
        view = view[os.write(fd, view) :]


class MessageReader:
    """Reassembles messages from the chunks ``os.read`` returns."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[Any]:
        self._buffer += chunk
        out = []
        while len(self._buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buffer)
            end = _HEADER.size + size
            if len(self._buffer) < end:
                break
            out.append(pickle.loads(self._buffer[_HEADER.size : end]))
            del self._buffer[:end]
        return out
