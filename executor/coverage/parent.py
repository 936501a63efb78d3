"""Parent side: is this process measured, and with which configuration should its workers measure?

Never imports coverage: if it is not in ``sys.modules`` this process is not measured (importing it would cost
~60 ms and measure nothing).
"""

from __future__ import annotations

import os
import sys
import warnings

OPT_OUT_VARIABLE = "XLIB_WORKER_COVERAGE"  # "0", "false", "no" or "off": workers are not measured
CONFIG_VARIABLE = "XLIB_COVERAGE_CONFIG"  # the spec, for workers exec'd by a launcher (holds no secret)
# coverage's own start-up variables: its ``.pth`` file starts coverage in any Python process that has one.
STARTUP_VARIABLES = ("COVERAGE_PROCESS_START", "COVERAGE_PROCESS_CONFIG")
# Coverage.current() (5.0), CoverageConfig.serialize() and ":data:" configurations (7.10).
MINIMUM_VERSION = (7, 10)

_OFF = frozenset({"0", "false", "no", "off"})
_warned: set[str] = set()


class WorkerCoverageWarning(UserWarning):
    """Worker processes run unmeasured although this process is measured (the message says why)."""


def opted_out(setting: bool | None) -> bool:
    """``worker_coverage=False``, or ``None`` with ``XLIB_WORKER_COVERAGE=0`` (``True`` ignores the variable)."""
    if setting is None:
        return os.environ.get(OPT_OUT_VARIABLE, "").strip().lower() in _OFF
    return not setting


def worker_coverage(setting: bool | None = None) -> str | None:
    """The spec workers should start coverage with, or ``None`` if they must not measure.

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
        return spec_for(current)
    except Exception as error:  # never let coverage stop an executor from starting
        warn_once(f"cannot hand this process's coverage configuration to workers: {type(error).__name__}: {error}")
        return None


def spec_for(cov: object) -> str | None:
    """Serialize ``cov``'s configuration for workers: ``"<base64 JSON config>:<directory>"``.

    The configuration is the parent's (command-line options included), with ``parallel`` (one data file per
    worker), ``sigterm`` and the ``_exit`` patch (save when stopped by the executor or by ``os._exit``), and
    ``include``/``omit`` patterns made absolute.  The directory is where the parent's coverage resolves
    relative file names; a worker starts coverage there, then moves to its own working directory.
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
    config["patch"] = sorted({*(config.get("patch") or ()), "_exit"})
    for key in ("run_include", "run_omit"):
        config[key] = [p if p.startswith(("*", "?")) else os.path.abspath(p) for p in config.get(key) or ()]
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
    return {name: value for name, value in env.items() if name not in STARTUP_VARIABLES}


def warn_once(message: str) -> None:
    """Warn that workers run unmeasured; each message once per process."""
    if message in _warned:
        return
    _warned.add(message)
    warnings.warn(WorkerCoverageWarning(f"{message}; worker processes run unmeasured"), stacklevel=3)
