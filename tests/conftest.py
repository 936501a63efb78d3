"""Set-up shared by every test directory.

pytester's in-process runs restore ``sys.modules`` afterwards, so a module first imported inside such a run is
imported anew by the next test.  For a package with a compiled part that splits its exception classes: pyzmq's
backend keeps raising the ``zmq.Again`` of the first import while ``executor.channel.parent`` catches the
``zmq.Again`` of the second, and the scheduler thread dies on an ordinary "no more messages".  Importing pyzmq
here, before any pytester run, keeps one copy for the whole session.
"""

import zmq  # noqa: F401  (imported for its side effect on sys.modules, see above)
