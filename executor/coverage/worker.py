"""Worker side: start coverage from a spec (see ``executor.coverage.parent.spec_for``), and never fail a worker.

Imported only when workers are measured: the fork-server template imports it when its configuration carries a
spec, launchers' workers when ``XLIB_COVERAGE_CONFIG`` is set.
"""

from __future__ import annotations

import os
import sys

from executor.coverage.parent import CONFIG_VARIABLE

_DATA_PREFIX = ":data:"  # coverage.control.CONFIG_DATA_PREFIX: a configuration given as serialized data
_MAX_DETAIL = 1000  # a worker reports its problem in one pipe write, which must stay below PIPE_BUF (4096)
# Where MPI implementations and batch systems put a process's rank (only rank 0 reports a problem).
_RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID", "FLUX_TASK_RANK")


def prepare(spec: str) -> str | None:
    """In the fork-server template: import coverage and check the spec once, so that every worker forked
    later starts faster and a bad configuration is reported once, not by every worker.

    Never starts measuring (the template runs no user code).  Returns why workers cannot be measured, or None.
    """
    try:
        config, _ = _split(spec)
        import coverage
        from coverage.control import CONFIG_DATA_PREFIX

        if CONFIG_DATA_PREFIX != _DATA_PREFIX:
            return f"coverage {coverage.__version__} does not take a serialized configuration"
        cov = coverage.Coverage(config_file=_DATA_PREFIX + config)
        cov._init()  # loads the configured plugins: the import errors show here, and workers find them imported
    except Exception as error:
        return _describe(error)
    return None


def warm_caches() -> None:
    """In the template, after ``prepare()``, when idle: fill the caches ``Coverage.start()`` reads, so that
    workers forked later inherit them.  Its collector records ``inspect.stack()`` (a module lookup over all of
    ``sys.modules``, the source lines of each frame): ~7 ms of each worker's start cold, ~1 ms warm."""
    try:
        import linecache

        from coverage import collector, control, debug

        debug.short_stack()
        for module in (control, collector, debug, sys.modules[__name__]):
            linecache.getlines(module.__file__)
    except Exception:  # only an optimisation
        pass


def start(spec: str) -> str | None:
    """Start measuring this process with the parent's configuration; returns why not, or None.

    Coverage saves its data at normal exit (the atexit handlers the worker runs before ``os._exit``), on
    SIGTERM, and when a task calls ``os._exit`` itself.  Its warnings are silenced while it starts: the parent
    already gave them for the same configuration.
    """
    cov = None
    try:
        config, directory = _split(spec)
        import warnings

        import coverage

        if coverage.Coverage.current() is not None:  # measured already (started before the fork): not twice
            return None
        cov = coverage.Coverage(config_file=_DATA_PREFIX + config)
        # As coverage.process_startup() does for the processes it measures.
        cov._warn_no_data = False
        cov._warn_unimported_source = False
        cov._warn_preimported_source = False
        cov._auto_save = True
        here = os.getcwd()
        moved = False
        if directory and os.path.normcase(os.path.abspath(directory)) + os.sep != os.path.normcase(here) + os.sep:
            try:
                os.chdir(directory)  # relative file names (``relative_files``) as the parent's coverage makes them
                moved = True
            except OSError:
                pass
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cov.start()
        finally:
            if moved:
                os.chdir(here)
    except Exception as error:
        if cov is not None:
            try:
                cov._auto_save = False
                cov.stop()
            except Exception:
                pass
        return _describe(error)
    return None


def start_from_environment() -> str | None:
    """For workers a launcher exec'd (``mpiexec``, ``srun``, flux): call first thing at start-up.

    Does nothing (and imports nothing) unless ``XLIB_COVERAGE_CONFIG`` is set; does not start a second
    ``Coverage`` if coverage's own start-up (its ``.pth`` file, through ``COVERAGE_PROCESS_CONFIG`` or
    ``COVERAGE_PROCESS_START``) already measures this process.  A problem is reported on stderr by rank 0
    only, and the worker runs unmeasured.  Returns the problem, or None.
    """
    spec = os.environ.get(CONFIG_VARIABLE)
    if not spec:
        return None
    module = sys.modules.get("coverage")
    if module is not None:
        try:
            if module.Coverage.current() is not None:
                return None
        except Exception:
            pass
    problem = start(spec)
    if problem is not None and _rank() in (None, 0):
        sys.stderr.write(f"WorkerCoverageWarning: {problem}; worker processes run unmeasured\n")
    return problem


def _split(spec: str) -> tuple[str, str]:
    config, _, directory = spec.partition(":")  # base64 has no ":"; the directory may
    return config, directory


def _rank() -> int | None:
    for name in _RANK_VARIABLES:
        value = os.environ.get(name)
        if value is not None and value.isdigit():
            return int(value)
    return None


def _describe(error: BaseException) -> str:
    detail = f"{type(error).__name__}: {error}"
    if len(detail) > _MAX_DETAIL:
        detail = detail[: _MAX_DETAIL - 3] + "..."
    return f"coverage could not start in a worker ({detail})"
