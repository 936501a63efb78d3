"""Parent side: is this process measured, and with which configuration should its workers measure?

Never imports coverage: if it is not in ``sys.modules`` this process is not measured (importing it would cost
~60 ms and measure nothing).
"""

from __future__ import annotations

import os
import sys
import warnings

from executor.host import COVERAGE_OPT_OUT_VARIABLE, coverage_opted_out

OPT_OUT_VARIABLE = COVERAGE_OPT_OUT_VARIABLE  # "0", "false", "no" or "off": workers are not measured
CONFIG_VARIABLE = "XLIB_COVERAGE_CONFIG"  # the spec, for workers exec'd by a launcher (holds no secret)
# coverage's own start-up variables: its ``.pth`` file starts coverage in any Python process that has one
# (and pytest-cov < 4 installed a ``.pth`` that did the same with its ``COV_CORE_*`` variables).
STARTUP_VARIABLES = ("COVERAGE_PROCESS_START", "COVERAGE_PROCESS_CONFIG")
STARTUP_PREFIXES = ("COV_CORE_",)
# Coverage.current() (5.0), CoverageConfig.serialize() and ":data:" configurations (7.10).
MINIMUM_VERSION = (7, 10)

_warned: set[str] = set()


class WorkerCoverageWarning(UserWarning):
    """Worker processes run unmeasured although this process is measured (the message says why)."""


def opted_out(setting: bool | None) -> bool:
    """``worker_coverage=False``, or ``None`` with ``XLIB_WORKER_COVERAGE=0`` (``True`` ignores the variable)."""
    if setting is None:
        return coverage_opted_out()
    return not setting


class WorkerMeasurement:
    """Measuring one executor's workers: the spec they start coverage with, and, when this process writes a
    single (non-parallel) data file — ``coverage run`` without ``-p`` — folding their data into it at close.

    A non-parallel parent's ``.coverage`` is what ``coverage report`` reads, and ``coverage combine`` without
    ``--append`` would replace it; so its workers write under a basename of their own (forked children of
    tasks included), and ``fold()`` merges those files into the parent's data and removes them.  A parallel
    parent (pytest-cov, ``coverage run -p``) leaves them for its own combine step.
    """

    __slots__ = ("spec", "_target", "_basename")

    def __init__(self, spec: str, target: object | None = None, basename: str | None = None) -> None:
        self.spec = spec
        self._target = target  # the parent's live CoverageData
        self._basename = basename

    def fold(self) -> int:
        """Merge the data files of workers that have exited into the parent's data; returns how many.

        Call it once the workers have exited, from any thread (CoverageData keeps one SQLite connection per
        thread).  A file that cannot be merged stays where it is, for ``coverage combine --append``.
        """
        if self._target is None or self._basename is None:
            return 0
        import glob

        from coverage import CoverageData

        folded = 0
        for path in sorted(glob.glob(glob.escape(self._basename) + ".*")):
            try:
                data = CoverageData(path)
                data.read()
                self._target.update(data)  # type: ignore[attr-defined]
                data.close()
                os.remove(path)
                folded += 1
            except Exception:
                continue
        return folded


def measure_workers(setting: bool | None = None) -> WorkerMeasurement | None:
    """How this executor's workers measure, or ``None`` if they must not.

    ``None`` unless this process is measured right now (a started ``coverage.Coverage``) and the user did not
    opt out.  A problem (coverage too old, a configuration that cannot be serialized) gives one warning per
    process and ``None``: workers then run unmeasured.
    """
    if opted_out(setting):
        return None
    module = sys.modules.get("coverage")
    if module is None:
        return None
    try:
        current = module.Coverage.current()
    except Exception:  # coverage < 5: no way to find the running instance
        current = None
        version = getattr(module, "__version__", "?")
        if getattr(module, "Coverage", None) is not None:
            warn_once(f"coverage {version} is too old to measure worker processes (needs 7.10 or later)")
    if current is None:
        return None
    try:
        target, basename = _single_data_file(current)
        spec = spec_for(current, basename)
    except Exception as error:  # never let coverage stop an executor from starting
        warn_once(f"cannot hand this process's coverage configuration to workers: {type(error).__name__}: {error}")
        return None
    return None if spec is None else WorkerMeasurement(spec, target, basename)


def _single_data_file(cov: object) -> tuple[object | None, str | None]:
    """``(live CoverageData, basename for workers)`` if ``cov`` writes one non-parallel data file, else Nones."""
    data = getattr(cov, "_data", None)  # created when coverage started
    config = cov.config  # type: ignore[attr-defined]
    if data is None or config.parallel or not config.data_file:
        return None, None
    main = os.path.abspath(config.data_file)
    if os.path.abspath(data.data_filename()) != main:  # a suffix: parallel after all (pytest-cov)
        return None, None
    _leave_combinable_copy_at_exit(cov, main)
    return data, f"{main}.xlib-{os.getpid()}-{os.urandom(4).hex()}"


_copy_registered: set[int] = set()


def _leave_combinable_copy_at_exit(cov: object, main: str) -> None:
    """With a non-parallel parent, worker data is folded into the parent's data, so ``coverage report`` works
    as is.  But the usual recipe then runs ``coverage combine``, which finds no parallel file, exits 1 ("No
    data to combine") and would fail the user's CI script.  So at exit the parent also leaves one parallel
    copy of its complete data: ``combine`` merges it into a ``.coverage`` holding the same lines (coverage
    data are sets: nothing is counted twice) and removes it.  Registered after coverage's own exit handler,
    so it runs first (atexit is last-in, first-out) and takes the data as they stand then."""
    if id(cov) in _copy_registered:
        return
    _copy_registered.add(id(cov))
    import atexit
    import socket

    def leave_copy() -> None:
        # ``coverage run`` has stopped and saved by now (its CLI does so before atexit handlers run), so the
        # data file exists; a program that measured into a directory it has removed since gets no copy.
        if not os.path.isdir(os.path.dirname(main)):
            return
        try:
            from coverage import CoverageData

            data = cov.get_data()  # type: ignore[attr-defined]  # flushes what the collector holds
            copy = CoverageData(main, suffix=f"xlib.{socket.gethostname()}.{os.getpid()}")
            copy.update(data)
            copy.write()
        except Exception as error:  # never fail the interpreter's exit over this
            warnings.warn(
                WorkerCoverageWarning(f"could not leave a combinable copy of the coverage data: {error!r}"),
                stacklevel=1,
            )

    atexit.register(leave_copy)


def spec_for(cov: object, data_file: str | None = None) -> str | None:
    """Serialize ``cov``'s configuration for workers: ``"<base64 JSON config>:<directory>"``.

    The configuration is the parent's (command-line options included), with ``parallel`` (one data file per
    worker), ``sigterm`` and the ``_exit`` patch (save when stopped by the executor or by ``os._exit``), the
    ``fork`` patch (a process a task forks restarts coverage: without it, a ``multiprocessing`` pool's
    processes lose their data), and ``include``/``omit`` patterns made absolute; ``data_file`` replaces the
    parent's data file name.  The
    directory is where the parent's coverage resolves relative file names; a worker starts coverage there,
    then moves to its own working directory.
    """
    import base64
    import json

    module = sys.modules["coverage"]
    if tuple(getattr(module, "version_info", (0,))[:2]) < MINIMUM_VERSION:
        warn_once(f"coverage {module.__version__} is too old to measure worker processes (needs 7.10 or later)")
        return None
    config = json.loads(base64.b64decode(cov.config.serialize()))  # type: ignore[attr-defined]
    config["parallel"] = True
    config["sigterm"] = True
    config["patch"] = sorted({*(config.get("patch") or ()), "_exit", "fork"})
    for key in ("run_include", "run_omit"):
        config[key] = [p if p.startswith(("*", "?")) else os.path.abspath(p) for p in config.get(key) or ()]
    if data_file is not None:
        config["data_file"] = data_file
    files = sys.modules.get("coverage.files")
    directory = getattr(files, "RELATIVE_DIR", "") or os.getcwd()
    return base64.b64encode(json.dumps(config).encode()).decode() + ":" + directory


def launcher_environment(spec: str | None) -> dict[str, str]:
    """Variables to add to the environment of a launcher (mpiexec, srun, flux) that execs workers.

    The worker calls ``executor.coverage.worker.start_from_environment()`` before running anything else.
    """
    return {} if spec is None else {CONFIG_VARIABLE: spec}


def template_environment(env: dict[str, str]) -> dict[str, str]:
    """``env`` without coverage's start-up variables: the fork-server template must not be measured (it runs
    no user code, and workers forked from a measured template would all share its data file)."""
    return {
        name: value
        for name, value in env.items()
        if name not in STARTUP_VARIABLES and not name.startswith(STARTUP_PREFIXES)
    }


def warn_once(message: str) -> None:
    """Warn that workers run unmeasured; each message once per process."""
    if message in _warned:
        return
    _warned.add(message)
    warnings.warn(WorkerCoverageWarning(f"{message}; worker processes run unmeasured"), stacklevel=3)
