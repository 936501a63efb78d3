"""The fork server: a pre-imported template process that forks one fresh worker per request.

Starting a Python worker from scratch costs ~25 ms here (interpreter start and imports); forking this template
costs ~1 ms, and every worker is still a fresh process of its own.  The template:

* reads requests from stdin (a pipe only the parent holds): ``config`` first (in two parts when the parent
  starts it before binding its channel: the coverage spec at once, the channel's address and secret later;
  ``spawn`` only comes after both), then ``spawn``, ``env``, ``cwd``, ``path``, ``kill`` and ``coverage``;
* reports ``ready``, ``spawned``, ``exited`` and ``coverage_off`` events on the file descriptor named on its
  command line;
* when the config carries a coverage spec (the parent is measured), imports coverage and checks the spec once,
  without measuring itself; each worker starts coverage right after the fork (``executor.coverage``).  Without
  a spec nothing about coverage is imported, here or in workers;
* reaps its children on SIGCHLD (through the signal wake-up fd, so it sleeps until something happens); it is
  their subreaper, and kills what a killed worker left behind (``executor.worker.reaper``);
* uses idle time to import modules workers will likely need (cloudpickle), so no worker pays for them;
* when the parent goes away (EOF on stdin), terminates its children and exits.

It opens no connection itself: each forked worker connects to the parent after the fork.
"""

from __future__ import annotations

import _signal as signal  # not ``signal``: its IntEnum wrappers cost start-up time and are not needed
import os
import select
import sys
import time

TYPE_CHECKING = False

if TYPE_CHECKING:  # typing costs every worker ~4 ms at start-up; annotations are strings anyway
    from typing import Any

from executor.channel.pipe import MessageReader, write_message
from executor.worker import calls as _calls  # noqa: F401  - pre-import for the children
from executor.worker import reaper
from executor.worker.loop import WorkerConfig, serve

_WARM_IMPORTS = ["cloudpickle", "traceback", "ctypes"]
_exit = os._exit  # workers leave through this one: coverage's ``_exit`` patch would save a second time
_TERM_GRACE = 2.0  # seconds between SIGTERM and SIGKILL for children still alive when the parent left


class _Template:
    def __init__(self, request_fd: int, event_fd: int) -> None:
        self.request_fd = request_fd
        self.event_fd = event_fd
        self.reader = MessageReader()
        self.children: dict[int, bytes] = {}
        self.config: dict[str, Any] = {}
        self.warm: list[Any] = list(_WARM_IMPORTS)  # module names to import, or callables, in idle time
        self.forked = False
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self.wake_w)

    def emit(self, *event: Any) -> None:
        write_message(self.event_fd, event)

    def run(self) -> None:
        poller = select.poll()
        poller.register(self.request_fd, select.POLLIN)
        poller.register(self.wake_r, select.POLLIN)
        warm = self.warm
        self.emit("ready", os.getpid())
        while True:
            try:
                # Warm up only once the first worker is forked: an import started just before the first spawn
                # request arrives would hold that request (and the first result) back by its whole duration.
                ready = poller.poll(0 if warm and self.forked else None)
            except InterruptedError:  # pragma: no cover - PEP 475 retries, kept for clarity
                continue
            if not ready and warm and self.forked:
                item = warm.pop(0)
                try:
                    item() if callable(item) else __import__(item)
                except ImportError:
                    pass
                continue
            for fd, _ in ready:
                if fd == self.wake_r:
                    self._drain_wakeups()
                    self._reap()
                elif not self._read_requests():
                    self._terminate_children()
                    return

    def _drain_wakeups(self) -> None:
        try:
            while os.read(self.wake_r, 4096):
                pass
        except BlockingIOError:
            pass

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            identity = self.children.pop(pid, None)
            if identity is not None:
                self.emit("exited", identity, pid, os.waitstatus_to_exitcode(status))
        # Orphans of a worker that was killed (a daemon its call started) were re-parented to this subreaper:
        # they end with their worker.  Their own orphans come here next, and are killed at the next SIGCHLD.
        reaper.kill_adopted(self.children)

    def _read_requests(self) -> bool:
        chunk = os.read(self.request_fd, 1 << 16)
        if not chunk:
            return False
        for request in self.reader.feed(chunk):
            self._handle(request)
        return True

    def _handle(self, request: tuple[Any, ...]) -> None:
        kind = request[0]
        if kind == "config":  # in parts: the coverage spec at once, the channel's address and key when bound
            self.config.update(request[1])
            if request[1].get("coverage"):
                from executor.coverage import worker as coverage_worker

                problem = coverage_worker.prepare(self.config["coverage"])
                if problem is None:
                    self.warm.insert(0, coverage_worker.warm_caches)  # off the first worker's path
                else:
                    self.config["coverage"] = None
                    self.emit("coverage_off", problem)
        elif kind == "coverage":  # a worker could not start coverage: the parent turns it off for the others
            self.config["coverage"] = request[1]
        elif kind == "env":
            os.environ.clear()
            os.environ.update(request[1])
        elif kind == "cwd":
            try:
                os.chdir(request[1])
            except OSError:
                pass  # a worker with its own cwd sets it after the fork; others report their own failure
        elif kind == "path":
            sys.path[:] = request[1]
        elif kind == "spawn":
            self._spawn(*request[1:])
        elif kind == "kill":
            pid, signum = request[1], request[2]
            if pid in self.children:
                try:
                    os.killpg(pid, signum)  # the worker and every process its call started
                except ProcessLookupError:  # forked a moment ago: not yet the leader of its own group
                    try:
                        os.kill(pid, signum)
                    except ProcessLookupError:
                        pass

    def _spawn(self, identity: bytes, worker_id: int, one_shot: bool, env: dict[str, str], cwd: str | None) -> None:
        pid = os.fork()
        if pid == 0:
            self._become_worker(identity, worker_id, one_shot, env, cwd)
        self.children[pid] = identity
        self.forked = True
        self.emit("spawned", identity, pid)

    def _become_worker(self, identity: bytes, worker_id: int, one_shot: bool, env: dict[str, str], cwd: str | None) -> None:
        code = 1
        try:
            os.setsid()  # a session (and process group) of its own: a time limit stops the call's whole tree
            reaper.adopt_orphans()  # and what detaches from it (a daemon) stays its child: see executor.worker.reaper
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            if self.config.get("coverage"):
                _start_coverage(self.config["coverage"], self.event_fd)
            for fd in (self.event_fd, self.wake_r, self.wake_w):
                os.close(fd)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)  # the request pipe was fd 0: workers must not hold it
            os.close(devnull)
            _die_with_parent()
            os.environ.update(env)
            if cwd is not None:
                os.makedirs(cwd, exist_ok=True)
                os.chdir(cwd)
            serve(
                WorkerConfig(
                    address=self.config["address"],
                    identity=identity,
                    key=self.config["key"],
                    worker_id=worker_id,
                    one_shot=one_shot,
                )
            )
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            _finish(code)

    def _terminate_children(self) -> None:
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + _TERM_GRACE
        while self.children and time.monotonic() < deadline:
            self._reap()
            if self.children:
                select.select([self.wake_r], [], [], max(0.0, deadline - time.monotonic()))
                self._drain_wakeups()
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        reaper.end_descendants()  # and what this subreaper adopted from them


def _start_coverage(spec: str, event_fd: int) -> None:
    """Measure this worker from here on (before the worker's own environment and cwd are applied: the spec is
    the parent's); a failure is reported to the parent, which warns once, and the worker runs unmeasured."""
    from executor.coverage.worker import start

    problem = start(spec)
    if problem is not None:
        try:
            write_message(event_fd, ("coverage_off", problem))  # one small write (< PIPE_BUF): atomic on a pipe
        except OSError:
            pass


def _die_with_parent() -> None:
    """Linux: get SIGKILL if the template dies, so no worker is ever orphaned (best effort elsewhere)."""
    ctypes = sys.modules.get("ctypes")
    if ctypes is None or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _finish(code: int) -> None:
    """Exit a forked worker: run the user's atexit handlers and flush output, but none of the template's."""
    import atexit

    try:
        atexit._run_exitfuncs()
    finally:
        try:
            reaper.end_descendants()  # nothing the worker's calls started outlives it
        except Exception:
            pass
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        _exit(code)


def main() -> None:
    reaper.adopt_orphans()  # also imports ctypes (Linux) before the first fork, for the workers' prctl calls
    event_fd = int(sys.argv[1])
    reader = MessageReader()
    template = _Template(0, event_fd)
    template.reader = reader
    template.run()


if __name__ == "__main__":
    main()
