"""The messages that travel over the worker channel.

Layer: channel.  Each message is a plain tuple whose first item is its kind (one byte); plain tuples pickle and
unpickle several times faster than record classes, and this is the hot path.  The layouts below are the
contract: the worker side builds them in ``executor.worker.loop``, the parent side in
``executor.schedulers.pool``.

worker -> parent
    HELLO   (HELLO, pid)                               the worker is connected and ready
    RESULT  (RESULT, task_id, ok, data)                ``data`` pickles the value, or ``(exception, traceback)``
    INITERR (INITERR, data)                            init_function raised; ``data`` as for a failed RESULT.
                                                       The worker answers its calls with that failure; the
                                                       parent gives it no more calls (``block``)
parent -> worker
    CALLS   (CALLS, [(task_id, payload), ...])         ``payload`` pickles ``(fn, args, kwargs)``
    INIT    (INIT, payload)                            block allocation: run ``init_function`` first
    STOP    (STOP,)                                    finish and exit
"""

from __future__ import annotations

HELLO = b"H"
RESULT = b"R"
INITERR = b"E"
CALLS = b"C"
INIT = b"I"
STOP = b"S"
