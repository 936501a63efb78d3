"""The worker's main loop: connect to the parent, say hello, run calls until told to stop.

A worker started for one call (one-process-per-call mode) exits right after sending its result; a block
allocation worker serves calls until it receives STOP.
"""

from __future__ import annotations

import os
# The C module: ``pickle.py`` adds ~3 ms of imports to every worker and we only need loads/dumps.
import _pickle as pickle
TYPE_CHECKING = False

if TYPE_CHECKING:  # typing costs every worker ~4 ms at start-up; annotations are strings anyway
    from collections.abc import Callable
    from typing import Any

from executor.channel import messages as m
from executor.channel import oob
from executor.channel.framing import worker_framer
from executor.channel.zmtp import Dealer
from executor.worker.calls import failure, run

# How long a starting worker tries to connect to the parent.
_CONNECT_TIMEOUT = 30.0


class WorkerConfig:
    """What a worker needs to know; passed by the spawner (never on the command line: it holds the key).

    A plain class, not a dataclass: ``dataclasses`` imports ``inspect``, ~6 ms of every worker's start.
    """

    __slots__ = ("address", "identity", "key", "worker_id", "one_shot", "extra")

    def __init__(
        self,
        address: str,
        identity: bytes,
        key: bytes,
        worker_id: int = 0,
        one_shot: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.address = address
        self.identity = identity
        self.key = key
        self.worker_id = worker_id
        self.one_shot = one_shot
        self.extra = extra or {}


def _run_here(kind: str, payload: bytes, extra: dict[str, Any]) -> tuple[bool, bytes]:
    return run(payload, extra)


def serve(
    config: WorkerConfig,
    runner: Callable[[str, bytes, dict[str, Any]], tuple[bool, bytes]] = _run_here,
    connect: Callable[..., Dealer] = Dealer,
) -> None:
    """Serve calls until STOP (or after one call if ``one_shot``).  ``runner(kind, payload, extra)`` runs an
    ``"init"`` or ``"call"`` payload; the MPI worker passes one that runs it on every rank.  ``connect`` makes
    the socket (tests' in-process workers keep a handle on it)."""
    framer = worker_framer(config.key)
    sock = connect(config.address, config.identity, timeout=_CONNECT_TIMEOUT)
    raw_send, raw_recv = sock.send, sock.recv_message

    def send(message: tuple[Any, ...]) -> None:
        buffers: list[Any] = []  # a result's large buffers (oob): frames of their own, tag over all parts
        body = pickle.dumps(message, protocol=5, buffer_callback=buffers.append)
        if buffers:
            views = [buffer.raw() for buffer in buffers]
            sock.send_parts([framer.seal_parts(body, views), *views])
        else:
            raw_send(framer.seal(body))

    def receive() -> Any:
        """The next message from our parent, or ``None`` for a message that is not authentic (never unpickled)."""
        frames = raw_recv()
        if len(frames) == 1:
            body = framer.open(frames[0])
            return None if body is None else pickle.loads(body)
        body = framer.open_parts(frames[0], frames[1:])
        return None if body is None else pickle.loads(body, buffers=frames[1:])

    extra: dict[str, Any] = {"executorlib_worker_id": config.worker_id, **config.extra}
    init_error: bytes | None = None
    try:
        send((m.HELLO, os.getpid()))
        while True:
            message = receive()
            if message is None:
                continue  # not from our parent: never unpickled
            kind = message[0]
            if kind == m.CALLS:
                for task_id, payload in message[1]:
                    if init_error is not None:
                        send((m.RESULT, task_id, False, init_error))
                        continue
                    ok, data = runner("call", payload, extra)
                    send((m.RESULT, task_id, ok, data))
                if config.one_shot:
                    return
            elif kind == m.INIT:
                ok, data = runner("init", message[1], {"executorlib_worker_id": config.worker_id})
                if ok:
                    value = oob.loads(data)
                    if isinstance(value, dict):
                        extra.update(value)
                    else:
                        init_error = failure(TypeError(f"init_function must return a dict, got {type(value).__name__}"))
                else:
                    init_error = data
                if init_error is not None:
                    send((m.INITERR, init_error))
            elif kind == m.STOP:
                return
    finally:
        sock.close()
