"""Pickles whose large buffers travel out of band (pickle protocol 5, PEP 574).

Layer: channel.  A pickled call or result is ``bytes`` when it holds no large buffer (the common case, one
frame), else ``(body, buffers)``: ``body`` is the pickle without the data of NumPy arrays (or anything else
that exposes a ``PickleBuffer``) of at least ``OOB_MIN`` bytes, and ``buffers`` are those buffers themselves,
not copies.  The channel sends them as frames of their own without copying (the parent's libzmq with
``copy=False``, the worker's ZMTP client with ``sendmsg``), and the receiver unpickles with the frames it got,
so an array is rebuilt over the received memory (writable) instead of being copied out of a pickle.  Smaller
buffers stay in the pickle: a frame of their own costs more than the copy.

Nothing here authenticates: the channel checks every frame's tag before calling ``loads``.
"""

from __future__ import annotations

# The C module: ``pickle.py`` adds ~3 ms of imports to every worker and we only need loads/dumps.
import _pickle as pickle

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs every worker ~4 ms at start-up; annotations are strings anyway
    from collections.abc import Callable
    from typing import Any, Union

    Pickled = Union[bytes, "tuple[bytes, list[Any]]"]

OOB_MIN = 1 << 16
PROTOCOL = 5


def split(dumps: Callable[..., bytes], obj: Any) -> Pickled:
    """``dumps(obj)`` (``pickle.dumps`` or ``cloudpickle.dumps``) with buffers of ``OOB_MIN`` bytes or more left
    out of the pickle: ``bytes``, or ``(body, [PickleBuffer, ...])`` referencing ``obj``'s own memory."""
    buffers: list[Any] = []

    def keep_in_band(buffer: Any) -> bool:
        if memoryview(buffer).nbytes < OOB_MIN:
            return True
        buffers.append(buffer)
        return False

    body = dumps(obj, protocol=PROTOCOL, buffer_callback=keep_in_band)
    return (body, buffers) if buffers else body


def loads(data: Pickled) -> Any:
    """Unpickle what ``split`` made (after it crossed the channel)."""
    if isinstance(data, tuple):
        body, buffers = data
        return pickle.loads(body, buffers=buffers)
    return pickle.loads(data)


def in_band(data: Pickled) -> bytes:
    """One self-contained pickle (for files: the cache, an MPI rank's failure)."""
    if isinstance(data, tuple):
        return pickle.dumps(loads(data), protocol=PROTOCOL)
    return data


def size(data: Pickled) -> int:
    """Bytes of the pickle plus its out-of-band buffers."""
    if isinstance(data, tuple):
        body, buffers = data
        return len(body) + sum(memoryview(buffer).nbytes for buffer in buffers)
    return len(data)
