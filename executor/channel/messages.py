"""The messages that travel over the worker channel.

Each message is a plain tuple whose first item is its kind (one byte); plain tuples pickle and unpickle several
times faster than record classes, and this is the hot path.  The helpers below are the only places that build
them, so the layout lives here and nowhere else.

worker -> parent
    HELLO   (HELLO, pid)                               the worker is connected and ready
    RESULT  (RESULT, task_id, ok, data)                ``data`` pickles the value, or ``(exception, traceback)``
    INITERR (INITERR, data)                            init_function raised; ``data`` as for a failed RESULT
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
