"""``MockFlux``: a running mock flux instance in a directory, as if inside ``flux start``.

Layout of ``root``::

    bin/flux     the ``flux`` command (a shim: python -I -S, no pytest import)
    flux.db      the instance's state (SQLite, WAL): jobs, eventlogs, requests, call log
    local-0      exists while the broker runs; ``FLUX_URI=local://<root>/local-0``
    out/         the output of jobs without ``--output`` (what ``flux run`` forwards)
    broker.log   the broker's own errors

:meth:`MockFlux.environ` / :meth:`MockFlux.activate` give a program ``PATH`` (the shim), ``PYTHONPATH``
(the mock ``flux`` package, :data:`PACKAGE_DIR`) and ``FLUX_URI``.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import subprocess
import sys
from types import TracebackType

from pytest_executorlib.mocks.flux import state
from pytest_executorlib.mocks.flux.control import ControlAPI
from pytest_executorlib.mocks.flux.resources import Shape

#: The directory holding the mock ``flux`` Python package (goes on PYTHONPATH).
PACKAGE_DIR = str(pathlib.Path(__file__).resolve().parent / "pkg")
#: The directory holding ``pytest_executorlib`` (the shim puts it on sys.path).
_PARENT = str(pathlib.Path(__file__).resolve().parents[3])
#: Seconds ``MockFlux`` waits for its broker to start / to stop.
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
#: Default instance shape of ``flux start`` outside any instance: ``nodes;cores;gpus`` (xlib mock-env sets it).
SHAPE_VARIABLE = "XLIB_MOCK_FLUX_SHAPE"

_SHIM = """#!{python} -IS
import sys
sys.path[:0] = [{parent!r}, {package!r}]
from pytest_executorlib.mocks.flux.cli import main
sys.exit(main(sys.argv[1:]))
"""

_BROKER_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); from pytest_executorlib.mocks.flux.broker import main; "
                "sys.exit(main(sys.argv[2], int(sys.argv[3])))")


def write_shim(bin_dir: pathlib.Path) -> pathlib.Path:
    """Write the ``flux`` shim into ``bin_dir`` (idempotent); returns its path."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / "flux"
    text = _SHIM.format(python=sys.executable, parent=_PARENT, package=PACKAGE_DIR)
    if not path.exists() or path.read_text() != text:
        tmp = bin_dir / f".flux.{os.getpid()}"
        tmp.write_text(text)
        tmp.chmod(0o755)
        os.replace(tmp, path)
    return path


def shared_bin_dir() -> pathlib.Path:
    """Where ``xlib mock-env flux`` keeps its shim: one per Python and package location, reused."""
    cache = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache")
    key = hashlib.sha256(f"{sys.executable}\0{_PARENT}".encode()).hexdigest()[:12]
    return cache / "pytest-executorlib" / f"mock-flux-{key}" / "bin"


def create_instance(root: pathlib.Path, shape: Shape, shim: pathlib.Path) -> None:
    if (root / state.DB_NAME).exists():
        raise FileExistsError(f"MockFlux: {root} already holds a mock flux instance; use a new directory")
    (root / "out").mkdir(parents=True, exist_ok=True)
    state.create(str(root), shape.encode())
    conn = state.connect(str(root))
    try:
        with state.write(conn):
            conn.execute("INSERT OR REPLACE INTO meta VALUES('flux_shim', ?)", (str(shim),))
    finally:
        conn.close()


class MockFlux(ControlAPI):
    """A mock flux instance in ``root``: ``with MockFlux(tmp_path / "flux", cores_per_node=4) as flux: ...``.

    ``nodes`` ranks x ``cores_per_node`` cores x ``gpus_per_node`` GPUs.  Entering creates the instance and
    starts its broker (which watches this process: if it dies, the instance stops); leaving cancels every
    job, stops their tasks and the broker.
    """

    def __init__(self, root: pathlib.Path | str, nodes: int = 1, cores_per_node: int = 4, gpus_per_node: int = 0) -> None:
        self.root = pathlib.Path(root).absolute()
        self.shape = Shape(nodes, cores_per_node, gpus_per_node)
        self.bin = self.root / "bin"
        self.uri = "local://" + str(self.root / state.URI_NAME)
        self.env: dict[str, str] = {}
        self._broker: subprocess.Popen[bytes] | None = None
        self._saved: dict[str, str | None] | None = None

    def __enter__(self) -> MockFlux:
        shim = write_shim(self.bin)
        create_instance(self.root, self.shape, shim)
        pythonpath = os.environ.get("PYTHONPATH", "")
        self.env = {
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
            "PYTHONPATH": PACKAGE_DIR + (os.pathsep + pythonpath if pythonpath else ""),
            "FLUX_URI": self.uri,
        }
        log = open(self.root / "broker.log", "ab")
        try:
            self._broker = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _BROKER_BOOT, _PARENT, str(self.root), str(os.getpid())],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, cwd=os.getcwd(),
                start_new_session=True)
        finally:
            log.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        import selectors

        assert self._broker is not None and self._broker.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self._broker.stdout, selectors.EVENT_READ)
            line = self._broker.stdout.readline() if sel.select(READY_TIMEOUT) else b""
        self._broker.stdout.close()
        if line != b"ready\n":
            self._broker.kill()
            self._broker.wait()
            log = (self.root / "broker.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"MockFlux: the broker of {self.root} did not start within {READY_TIMEOUT} s; "
                               f"its log ends with:\n{log}")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        """Cancel every job, stop their tasks and the broker; the instance's commands then fail."""
        if self._broker is None:
            return
        broker, self._broker = self._broker, None
        try:
            conn = state.connect(str(self.root))
            try:
                with state.write(conn):
                    conn.execute("INSERT OR REPLACE INTO meta VALUES('stopped', '1')")
            finally:
                conn.close()
            self._wake()
            try:
                broker.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                broker.kill()
                broker.wait()
                raise RuntimeError(f"MockFlux: the broker of {self.root} did not stop within {STOP_TIMEOUT} s "
                                   f"(see {self.root}/broker.log)") from None
        finally:
            self._kill_orphans()
            self.deactivate()

    def _kill_orphans(self) -> None:
        """Tasks of jobs a dead broker left running (it was killed): SIGKILL their process groups."""
        import signal

        conn = state.connect(str(self.root))
        try:
            pgids = [p for (p,) in conn.execute("SELECT pgid FROM jobs WHERE state='RUN' AND pgid > 0")]
        finally:
            conn.close()
        for pgid in pgids:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    # --- environment -------------------------------------------------------------------------------------
    def environ(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """``base`` (default ``os.environ``) with :attr:`env` applied (inside this instance)."""
        merged = dict(os.environ if base is None else base)
        merged.update(self.env)
        return merged

    def activate(self) -> None:
        """Apply :attr:`env` to ``os.environ`` (and ``sys.path``, for ``import flux``) until the context exits."""
        if self._saved is not None:
            return
        self._saved = {key: os.environ.get(key) for key in self.env}
        os.environ.update(self.env)
        if PACKAGE_DIR not in sys.path:
            sys.path.insert(0, PACKAGE_DIR)
            self._saved["\0sys.path"] = PACKAGE_DIR

    def deactivate(self) -> None:
        """Undo :meth:`activate` (also forgets the imported mock ``flux`` modules)."""
        if self._saved is None:
            return
        for key, value in self._saved.items():
            if key == "\0sys.path":
                if PACKAGE_DIR in sys.path:
                    sys.path.remove(PACKAGE_DIR)
                for name in [n for n, m in sys.modules.items() if (n == "flux" or n.startswith("flux."))
                             and str(getattr(m, "__file__", "") or "").startswith(PACKAGE_DIR)]:
                    del sys.modules[name]  # the next `import flux` finds whatever is installed, as before
            elif value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved = None
