"""The worker's main loop: connect to the parent, say hello, run calls until told to stop.

A worker started for one call (one-process-per-call mode) exits right after sending its result; a block
allocation worker serves calls until it receives STOP.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from typing import Any

import zmq

from executor.channel import messages as m
from executor.channel.framing import worker_framer
from executor.worker.calls import failure, run

# How long a finishing worker keeps trying to deliver its last messages to a parent that stopped reading.
_LINGER_MS = 5000


@dataclass
class WorkerConfig:
    """What a worker needs to know; passed by the spawner (never on the command line: it holds the key)."""

    address: str
    identity: bytes
    key: bytes
    worker_id: int = 0
    one_shot: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def serve(config: WorkerConfig) -> None:
    framer = worker_framer(config.key)
    context = zmq.Context(io_threads=1)
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.IDENTITY, config.identity)
    sock.setsockopt(zmq.LINGER, _LINGER_MS)
    sock.connect(config.address)

    def send(message: tuple[Any, ...]) -> None:
        sock.send_multipart(framer.seal(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)))

    extra: dict[str, Any] = {"executorlib_worker_id": config.worker_id, **config.extra}
    init_error: bytes | None = None
    try:
        send((m.HELLO, os.getpid()))
        while True:
            body = framer.open(sock.recv_multipart())
            if body is None:
                continue  # not from our parent: never unpickled
            message = pickle.loads(body)
            kind = message[0]
            if kind == m.CALLS:
                for task_id, payload in message[1]:
                    if init_error is not None:
                        send((m.RESULT, task_id, False, init_error))
                        continue
                    ok, data = run(payload, extra)
                    send((m.RESULT, task_id, ok, data))
                if config.one_shot:
                    return
            elif kind == m.INIT:
                ok, data = run(message[1], {"executorlib_worker_id": config.worker_id})
                if ok:
                    value = pickle.loads(data)
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
        context.term()
